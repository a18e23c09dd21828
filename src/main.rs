fn main() {
    std::process::exit(ecomm::cmd::run());
}
