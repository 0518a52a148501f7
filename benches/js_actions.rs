//! One post-login JavaScript action invocation (fresh isolated context from the pool, the typical
//! user's event, three api calls), and a pipeline of five such actions.
//! `cargo bench --bench js_actions`
//!
//! Each iteration's setup (untimed) waits until the pools are full, so the figure is the latency
//! a login sees while the background thread keeps up; `sustained_*` runs back to back without
//! waiting, so it also pays for context creation whenever the pool runs dry.

use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use idpipe::actions::js::{JsAction, JsConfig};
use idpipe::pipeline::{Event, Executor, Services, Trigger};

const SCRIPT: &str = r#"
exports.onExecutePostLogin = async (event, api) => {
  const roles = event.user.app_metadata.roles || [];
  api.idToken.setCustomClaim("https://my-app.example.com/roles", roles);
  api.accessToken.setCustomClaim("https://my-app.example.com/plan", event.user.app_metadata.plan);
  if (roles.includes("admin")) api.accessToken.addScope("read:reports");
};
"#;

fn bench(c: &mut Criterion) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let event: Event =
        serde_json::from_str(&std::fs::read_to_string(root.join("fixtures/events/post-login-typical.json")).expect("event")).expect("json");
    let config = JsConfig {
        pool_size: 16,
        ..Default::default()
    };
    let make = |i: usize| JsAction::from_source(&format!("a{i}"), &format!("a{i}.js"), SCRIPT, config.clone()).expect("compiles");

    let one = Arc::new(make(0));
    let mut ex1 = Executor::new(Services::default());
    ex1.add(Trigger::PostLogin, one.clone());
    let five: Vec<Arc<JsAction>> = (1..=5).map(|i| Arc::new(make(i))).collect();
    let mut ex5 = Executor::new(Services::default());
    for a in &five {
        ex5.add(Trigger::PostLogin, a.clone());
    }
    let wait = |actions: &[Arc<JsAction>]| {
        for a in actions {
            a.wait_ready(Duration::from_secs(5));
        }
    };

    let mut g = c.benchmark_group("js");
    g.bench_function("one_action_invocation", |b| {
        b.iter_batched(
            || {
                wait(std::slice::from_ref(&one));
                event.clone()
            },
            |ev| ex1.start(Trigger::PostLogin, ev),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("pipeline_of_five_actions", |b| {
        b.iter_batched(
            || {
                wait(&five);
                event.clone()
            },
            |ev| ex5.start(Trigger::PostLogin, ev),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("sustained_one_action", |b| {
        b.iter_batched(|| event.clone(), |ev| ex1.start(Trigger::PostLogin, ev), BatchSize::SmallInput)
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
