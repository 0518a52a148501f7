//! Property test: for random profiles and action attributes, the bytes idpipe digests equal
//! libxml2's exclusive C14N of the emitted element, byte for byte, and xmlsec1 agrees.

mod common;

use chrono::Utc;
use common::*;
use idpipe::pipeline::Outcome;
use idpipe::pipeline::outcome::SamlOverrides;
use idpipe::saml::{self, AddonSettings};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn text() -> impl Strategy<Value = String> {
    // Markup characters, whitespace that C14N treats specially, and non-ASCII text.
    prop::collection::vec(
        prop_oneof![
            Just('&'),
            Just('<'),
            Just('>'),
            Just('"'),
            Just('\''),
            Just('\r'),
            Just('\n'),
            Just('\t'),
            Just(' '),
            Just('é'),
            Just('中'),
            Just('😀'),
            Just('\u{7f}'),
            Just(']'),
            Just(':'),
            Just('/'),
            proptest::char::range('a', 'z'),
        ],
        0..24,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        text().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        (-1.0e9f64..1.0e9).prop_map(|f| json!(f)),
        any::<bool>().prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![scalar(), prop::collection::vec(scalar(), 0..4).prop_map(Value::from)]
}

fn attr_name() -> impl Strategy<Value = String> {
    prop_oneof![
        text().prop_filter("non-empty", |s| !s.is_empty()),
        "[a-z]{1,8}".prop_map(|s| format!("http://example.com/claims/{s}")),
        "[a-z]{1,8}".prop_map(|s| format!("urn:x:{s}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn digested_bytes_equal_libxml2_exclusive_c14n(
        name in text(),
        nickname in text(),
        extra in prop::collection::btree_map("[a-z_]{1,10}", value(), 0..4),
        attrs in prop::collection::vec((attr_name(), prop::option::of(value())), 0..5),
        sign_response in any::<bool>(),
        typed in any::<bool>(),
        name_format in any::<bool>(),
        issuer in text().prop_filter("non-empty", |s| !s.is_empty()),
    ) {
        let mut profile: Map<String, Value> = user();
        profile.insert("name".into(), json!(name));
        profile.insert("nickname".into(), json!(nickname));
        for (k, v) in extra {
            profile.insert(k, v);
        }
        let ov = SamlOverrides {
            attributes: attrs,
            sign_response: Some(sign_response),
            typed_attributes: Some(typed),
            include_attribute_name_format: Some(name_format),
            issuer: Some(issuer),
            ..Default::default()
        };
        let tenant = tenant();
        let outcome = Outcome { saml: ov, ..Default::default() };
        let addon = AddonSettings::default();
        let issued = saml::issue(&saml::IssueInput {
            tenant: &tenant, addon: &addon, outcome: &outcome, profile: &profile, request: None,
            acs_url: "https://sp.example.com/acs?a=1&b=<2>", client_id: "prop", relay_state: None,
            session_index: "_s", now: Utc::now(),
            authn_instant: None,
            name_id: None,
            authn_context_class_ref: None,
            ids: None,
        });
        let r = match issued {
            Ok(i) => i.response,
            // Values with characters XML cannot carry are refused, never emitted.
            Err(e) => { prop_assert!(e.to_string().contains("not allowed in XML"), "{}", e); return Ok(()); }
        };
        let id = if sign_response { &r.response_id } else { &r.assertion_id };
        prop_assert_eq!(&libxml_exc_c14n(&r.xml, id), &r.signed_c14n);
        let node = if sign_response { "urn:oasis:names:tc:SAML:2.0:protocol:Response" } else { "urn:oasis:names:tc:SAML:2.0:assertion:Assertion" };
        prop_assert!(xmlsec_verify(&r.xml, node).is_ok());
    }
}
