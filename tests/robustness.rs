//! Bad input never panics: random and mutated input to every parser and to the api dispatcher.

mod common;

use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Utc};
use common::*;
use idpipe::actions::{FnAction, dispatch};
use idpipe::pipeline::{Event, Executor, Services, Trigger};
use idpipe::saml::request::{IntakeRules, parse_post, parse_redirect, parse_xml};
use openssl::x509::X509;
use proptest::prelude::*;
use serde_json::Value;

fn rules() -> IntakeRules {
    IntakeRules::at(DateTime::parse_from_rfc3339("2026-11-23T10:01:00Z").expect("t").with_timezone(&Utc))
}

/// The signed fixture with one byte replaced, inserted or removed.
fn mutated(seed: (usize, u8, u8)) -> String {
    let base = read("fixtures/saml/authn-request-signed.xml").into_bytes();
    let (pos, byte, op) = seed;
    let mut b = base.clone();
    let i = pos % b.len();
    match op % 3 {
        0 => b[i] = byte,
        1 => b.insert(i, byte),
        _ => {
            b.remove(i);
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_authn_request_parser_never_panics_on_random_text(s in ".{0,400}") {
        let _ = parse_xml(&s);
        let _ = parse_post(&s, None, None, rules());
        let _ = parse_redirect(&s, None, rules());
    }

    #[test]
    fn mutated_signed_requests_are_refused_or_parsed_never_panic(pos in 0usize..4000, byte in any::<u8>(), op in any::<u8>()) {
        let xml = mutated((pos, byte, op));
        let cert = X509::from_pem(read("certs/sp-test.crt").as_bytes()).expect("cert");
        let b64 = base64::engine::general_purpose::STANDARD.encode(&xml);
        // With the SP's certificate, any change to signed content must be refused.
        if let Ok(i) = parse_post(&b64, None, Some(&cert), rules()) {
            prop_assert!(i.request.signature_verified);
        }
    }

    #[test]
    fn random_redirect_queries_never_panic(parts in prop::collection::vec(("(SAMLRequest|RelayState|SigAlg|Signature|x)", "[A-Za-z0-9%+/=&]{0,60}"), 0..5)) {
        let q: Vec<String> = parts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let cert = X509::from_pem(read("certs/sp-test.crt").as_bytes()).expect("cert");
        let _ = parse_redirect(&q.join("&"), Some(&cert), rules());
    }

    #[test]
    fn the_api_dispatcher_never_panics_on_any_method_and_arguments(
        method in prop_oneof![
            Just("samlResponse.setAttribute".to_string()), Just("samlResponse.setLifetimeInSeconds".to_string()),
            Just("authentication.challengeWith".to_string()), Just("authentication.enrollWithAny".to_string()),
            Just("cache.set".to_string()), Just("redirect.encodeToken".to_string()), Just("redirect.sendUserTo".to_string()),
            Just("session.setExpiresAt".to_string()), Just("transaction.setMetadata".to_string()), Just("multifactor.enable".to_string()),
            Just("redirect.validateToken".to_string()), Just("prompt.render".to_string()), "[a-zA-Z.]{0,30}",
        ],
        args in prop::collection::vec(prop_oneof![
            Just(Value::Null), any::<bool>().prop_map(Value::from), any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            ".{0,20}".prop_map(Value::from), Just(serde_json::json!({"type": "otp"})), Just(serde_json::json!([{"type": 1}])),
            Just(serde_json::json!({"secret": "s", "payload": {"a": [1, {"b": null}]}, "query": {"x": {"y": 1}}})),
        ], 0..4),
    ) {
        let mut ex = Executor::new(Services::default());
        let (m, a) = (method.clone(), args.clone());
        ex.add(Trigger::PostLogin, Arc::new(FnAction::post_login("fuzz", move |_, api| {
            let _ = dispatch::post_login(api, &m, &a);
            Ok(())
        })));
        let st = ex.start(Trigger::PostLogin, Event::default());
        // Whatever happened is in the trace (or was refused before reaching the core).
        prop_assert_eq!(st.outcome.trace.len(), 1);
    }
}
