//! The demo tenant's three post-login JavaScript actions (`fixtures/tenant/load.toml`) run back to
//! back on one thread over the typical event, for profiling the actions alone (`perf record`).
//! Prints the mean time per pipeline run.
//!
//! `cargo run --release --example actions_loop -- [RUNS]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use idpipe::actions::js::{JsAction, JsConfig};
use idpipe::pipeline::{Event, Executor, Services, Trigger};

fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("fixtures/events/post-login-typical.json")).expect("event");
    let mut event: Event = serde_json::from_str(&text).expect("json");
    event.user.app_metadata.insert("terms_accepted".into(), serde_json::json!("v3"));
    let mut ex = Executor::new(Services::default());
    let files = [
        "fixtures/actions/role-claims.js",
        "fixtures/cli-actions/saml-attributes.js",
        "fixtures/tenant/consent.js",
    ];
    let actions: Vec<Arc<JsAction>> = files
        .iter()
        .map(|f| Arc::new(JsAction::from_file(&root.join(f), JsConfig::default()).expect("compiles")))
        .collect();
    for a in &actions {
        a.wait_ready(Duration::from_secs(5));
        ex.add(Trigger::PostLogin, a.clone());
    }
    for _ in 0..1000 {
        ex.start(Trigger::PostLogin, event.clone());
    }
    let t = Instant::now();
    for _ in 0..runs {
        ex.start(Trigger::PostLogin, event.clone());
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / runs as f64;
    println!("{runs} runs of the 3 demo actions: {per:.1} us per run");
}
