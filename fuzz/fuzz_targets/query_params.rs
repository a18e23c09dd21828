//! The dashboard's query-string handling on arbitrary request targets: axum's own query extractor,
//! then ecomm's validation of every endpoint's parameters (dates, behaviours, categories, lang).
//! It never panics; it either accepts the parameters or names what is wrong.
#![no_main]

use axum::extract::Query;
use axum::http::Uri;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(uri) = format!("/api/metrics?{text}").parse::<Uri>() else { return };
    let Ok(Query(q)) = Query::<HashMap<String, String>>::try_from_uri(&uri) else { return };
    for allowed in [&["from", "to", "behavior", "category"][..], &["from", "to", "behavior", "category", "lang"][..], &[][..]] {
        match ecomm::serve::check_params(&q, allowed) {
            Ok(()) => {}
            Err(msg) => assert!(!msg.is_empty()),
        }
    }
});
