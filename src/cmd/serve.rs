//! `ecomm serve`: the dashboard on http://127.0.0.1:8501 by default.

use crate::appdb::accounts;
use crate::appdb::{path_for, AppDb};
use crate::cli::ServeArgs;
use crate::serve::{router, AppState};
use crate::store::{self, Mode, OpenOptions};
use anyhow::{bail, Context, Result};
use std::sync::Arc;

/// What to serve, validated.
pub struct ServeConfig {
    /// The DuckDB file.
    pub db: std::path::PathBuf,
    /// DB open options.
    pub open: OpenOptions,
    /// Address to listen on.
    pub ip: std::net::IpAddr,
    /// Port (0: any free port).
    pub port: u16,
    /// Open the default browser.
    pub open_browser: bool,
    /// When the port is taken, listen on any free port instead of failing (the demo).
    pub any_port_if_taken: bool,
    /// A folder to watch for new files to ingest.
    pub watch: Option<std::path::PathBuf>,
    /// Scheduled reports.
    pub schedule: Option<crate::serve::schedule::Plan>,
}

/// Runs `ecomm serve` until Ctrl-C.
pub fn run(a: ServeArgs) -> Result<()> {
    let ip: std::net::IpAddr = a.host.parse().with_context(|| format!("--host {}: expected an IP address such as 127.0.0.1", a.host))?;
    serve(ServeConfig {
        db: a.db.db.clone(),
        open: OpenOptions { memory_limit: a.db.memory_limit.clone(), threads: a.db.threads },
        ip,
        port: a.port,
        open_browser: a.open,
        any_port_if_taken: false,
        watch: a.watch.clone(),
        schedule: a.schedule.map(|schedule| crate::serve::schedule::Plan { schedule, results: a.results.clone(), lang: a.lang }),
    })
}

/// Serves the dashboard until Ctrl-C.
pub fn serve(a: ServeConfig) -> Result<()> {
    let (ip, open) = (a.ip, a.open.clone());
    // Fail fast with the store's own sentence when the DB is missing or not ecomm's.
    {
        let conn = store::open(&a.db, Mode::ReadOnly, &open)?;
        store::require_window(&conn, &a.db)?;
        let rejects = store::rejects_path(&a.db);
        if store::rejects::sync_rejects_file(&conn, &rejects)? {
            eprintln!("note: {} lagged behind the DB; rewritten from the rejects table / 拒绝行文件已按数据库补齐", rejects.display());
        }
    }
    // Beyond loopback, everyone logs in; that needs at least one account.
    let auth = !ip.is_loopback();
    if auth {
        let app = AppDb::open(&path_for(&a.db))?;
        if accounts::list_users(&app)?.is_empty() {
            bail!(
                "listening on {ip} exposes the dashboard to the network, so it requires accounts: create one with `ecomm user add NAME --role admin --db {}`, or use --host 127.0.0.1 / 对外监听需要账号：请先运行 ecomm user add",
                a.db.display()
            );
        }
    }
    return_freed_memory();
    let mut state = AppState::new(a.db.clone(), open, crate::insights::model_threads(a.open.threads), auth);
    state.results = a.schedule.as_ref().map(|p| p.results.clone());
    // Alert rules: evaluated now (the data may have changed while no server ran) and after each
    // change the poller sees; pending firings are sent every second.
    let alerts = crate::alert::deliver::Runner::start(a.db.clone(), a.open.clone());
    alerts.changed();
    state.alerts = Some(alerts);
    let state = Arc::new(state);
    // Compute the first page's answers in the background while the user opens the browser
    // (ECOMM_SERVE_NO_WARM=1 skips it, so scripts/bench_serve.sh times cold answers).
    if std::env::var_os("ECOMM_SERVE_NO_WARM").is_none() {
        let st = state.clone();
        std::thread::spawn(move || crate::serve::warm(&st));
    }
    // Open pages learn of every commit, whoever made it (see serve::live).
    {
        let st = state.clone();
        st.live.check(&st.db, &st.open);
        std::thread::spawn(move || crate::serve::live::poll_forever(st));
    }
    if let Some(dir) = &a.watch {
        start_watch(&a.db, &a.open, dir)?;
    }
    if let Some(plan) = a.schedule.clone() {
        let st = state.clone();
        std::thread::spawn(move || crate::serve::schedule::run_forever(st, plan));
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::bind((ip, a.port)).await {
            Err(e) if a.any_port_if_taken && e.kind() == std::io::ErrorKind::AddrInUse => {
                eprintln!("port {} is in use; using a free port instead / 端口被占用，改用空闲端口", a.port);
                tokio::net::TcpListener::bind((ip, 0)).await?
            }
            other => other.with_context(|| format!("cannot listen on {ip}:{}; is another server using the port? try --port", a.port))?,
        };
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}/");
        // The server keeps running when nobody reads its stdout any more (a closed pipe).
        let _ = crate::cmd::out::try_write(format_args!("ecomm dashboard: {url}  (Ctrl-C to stop)\n"));
        if a.open_browser {
            open_browser(&url);
        }
        let live = state.clone();
        axum::serve(listener, router(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = tokio::signal::ctrl_c().await;
                live.live.stop();
            })
            .await?;
        Ok(())
    })
}

/// Ingests every new file of `dir` on a thread of its own (see `ingest::watch`), saying on
/// stderr what happened to each.
fn start_watch(db: &std::path::Path, open: &OpenOptions, dir: &std::path::Path) -> Result<()> {
    use crate::ingest::watch::{watch, Outcome, Watch};
    if !dir.is_dir() {
        bail!("--watch {}: not a folder; create it first / 监视目录不存在", dir.display());
    }
    let cfg = crate::ingest::IngestConfig {
        inputs: vec![],
        db: db.to_path_buf(),
        start: None,
        end: None,
        tz: None,
        replace: false,
        open: open.clone(),
        progress: false,
        read: Default::default(),
        always_new: false,
    };
    let w = Watch::new(dir.to_path_buf());
    eprintln!("watching {} for new files to ingest / 正在监视新文件", dir.display());
    std::thread::spawn(move || {
        let stop = std::sync::atomic::AtomicBool::new(false);
        let r = watch(&cfg, &w, &stop, &mut |file, outcome| match outcome {
            Outcome::Ingested(s) => eprintln!("ingested {}: {} rows loaded, the DB holds {}", file.display(), s.rows_loaded, s.db_rows),
            Outcome::Failed { moved_to, error } => eprintln!("{} failed, moved to {}: {error}", file.display(), moved_to.display()),
        });
        if let Err(e) = r {
            eprintln!("the watch of the folder stopped: {e}");
        }
    });
    Ok(())
}

/// Large blocks (a password check's ~19 MB, a chart's pixels) are given back to the OS when freed
/// instead of staying in glibc's heap: by default glibc raises its mmap threshold after such a
/// free, and a long-running server's RSS then only grows.
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; called before the server's threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn open_browser(url: &str) {
    let cmd = if cfg!(target_os = "macos") {
        ("open", vec![url])
    } else if cfg!(windows) {
        ("cmd", vec!["/C", "start", "", url])
    } else {
        ("xdg-open", vec![url])
    };
    if std::process::Command::new(cmd.0).args(&cmd.1).spawn().is_err() {
        eprintln!("could not open a browser; open {url} yourself");
    }
}
