//! The seeds' names, one hop: every method the JavaScript `api` exposes on each trigger reaches
//! the typed api through the dispatcher, and every method the dispatcher knows is exposed to
//! scripts (no name lives in only one of the tables).

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use idpipe::actions::FnAction;
use idpipe::actions::dispatch::{self, DispatchError};
use idpipe::actions::js::{JsAction, JsConfig};
use idpipe::pipeline::{Event, Executor, Services, Trigger};

/// The methods a script sees on `api`, per trigger, as `namespace.method`.
fn js_methods(trigger: Trigger) -> BTreeSet<String> {
    let (exec, _) = trigger.handler_names();
    let src = format!(
        "exports.{exec} = async (event, api) => {{ const out = []; for (const ns of Object.keys(api)) {{ const o = api[ns]; if (o && typeof o === 'object') for (const m of Object.keys(o)) if (typeof o[m] === 'function') out.push(ns + '.' + m); }} console.log(JSON.stringify(out)); }};"
    );
    let action = JsAction::from_source("surface", "surface.js", &src, JsConfig::default()).expect("compiles");
    let mut ex = Executor::new(Services::default());
    ex.add(trigger, Arc::new(action));
    let st = ex.start(trigger, Event::default());
    let line = &st.outcome.trace[0].logs[0].message;
    serde_json::from_str::<Vec<String>>(line).expect("list").into_iter().collect()
}

/// The methods the dispatcher knows, read from its match arms (`"ns.method" =>`).
fn dispatcher_methods(section: &str) -> BTreeSet<String> {
    let src = common::read("src/actions/dispatch.rs");
    let start = src.find(section).expect("section");
    let mut names = BTreeSet::new();
    for line in src[start..].lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix('"')
            && let Some((name, after)) = rest.split_once('"')
            && (after.trim_start().starts_with("=>") || after.trim_start().starts_with('|'))
            && name.contains('.')
        {
            names.insert(name.to_string());
        }
    }
    names
}

#[test]
fn every_js_method_reaches_the_typed_api_on_every_trigger() {
    for trigger in [Trigger::PostLogin, Trigger::PostChallenge, Trigger::PasswordResetPostChallenge] {
        let methods = js_methods(trigger);
        assert!(methods.len() > 5, "{trigger:?}: {methods:?}");
        let unknown = Arc::new(Mutex::new(Vec::new()));
        let (u, list) = (unknown.clone(), methods.clone());
        let mut ex = Executor::new(Services::default());
        let record = move |m: &str, r: Result<serde_json::Value, DispatchError>| {
            if let Err(DispatchError::Unknown(_)) = r {
                u.lock().expect("lock").push(m.to_string());
            }
        };
        let action = match trigger {
            Trigger::PostLogin => FnAction::post_login("probe", move |_, api| {
                for m in &list {
                    record(m, dispatch::post_login(api, m, &[]));
                }
                Ok(())
            }),
            _ => FnAction::post_challenge("probe", move |_, api| {
                for m in &list {
                    record(m, dispatch::post_challenge(api, m, &[]));
                }
                Ok(())
            }),
        };
        ex.add(trigger, Arc::new(action));
        ex.start(trigger, Event::default());
        assert_eq!(
            *unknown.lock().expect("lock"),
            Vec::<String>::new(),
            "{trigger:?}: exposed to scripts but unknown to the dispatcher"
        );
    }
}

#[test]
fn every_dispatched_method_is_exposed_to_scripts() {
    let js: BTreeSet<String> = [Trigger::PostLogin, Trigger::PostChallenge, Trigger::PasswordResetPostChallenge]
        .into_iter()
        .flat_map(js_methods)
        .collect();
    let dispatched = dispatcher_methods("pub fn post_login");
    assert!(dispatched.len() > 20, "{dispatched:?}");
    let missing: Vec<&String> = dispatched.iter().filter(|m| !js.contains(*m)).collect();
    assert!(missing.is_empty(), "dispatched but not exposed to scripts: {missing:?}");
}
