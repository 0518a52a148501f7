//! Table-driven tests of the reference's claim mapping rules (each option on and off) and of
//! every samlResponse setter's effect on the emitted XML.

mod common;

use chrono::{DateTime, Utc};
use common::*;
use idpipe::pipeline::Outcome;
use idpipe::pipeline::outcome::SamlOverrides;
use idpipe::saml::mapping::map_claims;
use idpipe::saml::settings::{RequestDefaults, resolve};
use idpipe::saml::{self, AddonSettings};
use serde_json::{Map, Value, json};

const NS: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/";
const A0: &str = "http://schemas.auth0.com/";

fn claims_for(addon: Value, ov: SamlOverrides, profile: &Map<String, Value>) -> Vec<(String, Vec<Value>)> {
    let addon: AddonSettings = serde_json::from_value(addon).expect("addon");
    let req = RequestDefaults {
        request_issuer: Some("sp".into()),
        acs_url: "https://sp/acs".into(),
        client_id: "c".into(),
        ..Default::default()
    };
    let s = resolve(&tenant(), &addon, &ov, &req).expect("resolves");
    map_claims(profile, &s, &ov.attributes)
        .into_iter()
        .map(|c| (c.name, c.values))
        .collect()
}

fn names(c: &[(String, Vec<Value>)]) -> Vec<String> {
    c.iter().map(|(n, _)| n.clone()).collect()
}

fn get<'a>(c: &'a [(String, Vec<Value>)], name: &str) -> Option<&'a Vec<Value>> {
    c.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

#[test]
fn default_mapping_order_and_content() {
    let c = claims_for(json!({}), SamlOverrides::default(), &user());
    let expected: Vec<String> = [
        format!("{NS}nameidentifier"),
        format!("{NS}emailaddress"),
        format!("{NS}name"),
        format!("{NS}givenname"),
        format!("{NS}surname"),
        "http://schemas.xmlsoap.org/claims/Group".into(),
        format!("{NS}upn"),
        "http://schemas.auth0.com/identities/default/provider".into(),
        "http://schemas.auth0.com/identities/default/connection".into(),
        "http://schemas.auth0.com/identities/default/isSocial".into(),
        format!("{A0}email_verified"),
        format!("{A0}nickname"),
        format!("{A0}username"),
        format!("{A0}picture"),
        format!("{A0}created_at"),
        format!("{A0}last_login"),
        format!("{A0}logins_count"),
        format!("{A0}locale"),
        format!("{A0}department"),
    ]
    .to_vec();
    assert_eq!(names(&c), expected);
    assert_eq!(
        get(&c, &format!("{NS}upn")),
        Some(&vec![json!("jane.doe@example.com")]),
        "UPN falls back to email"
    );
    assert_eq!(
        get(&c, "http://schemas.xmlsoap.org/claims/Group"),
        Some(&vec![json!("staff"), json!("engineering")])
    );
    assert_eq!(
        get(&c, "http://schemas.auth0.com/identities/default/isSocial"),
        Some(&vec![json!(false)])
    );
    // Objects (app_metadata, user_metadata), arrays of objects (enrolledFactors) never pass through.
    assert!(
        names(&c)
            .iter()
            .all(|n| !n.contains("metadata") && !n.contains("enrolledFactors") && !n.ends_with("identities"))
    );
}

#[test]
fn each_option_on_and_off() {
    let base = user();
    // createUpnClaim
    let c = claims_for(json!({"createUpnClaim": false}), SamlOverrides::default(), &base);
    assert!(get(&c, &format!("{NS}upn")).is_none());
    let mut with_upn = base.clone();
    with_upn.insert("upn".into(), json!("jdoe@corp.example"));
    let c = claims_for(json!({}), SamlOverrides::default(), &with_upn);
    assert_eq!(
        get(&c, &format!("{NS}upn")),
        Some(&vec![json!("jdoe@corp.example")]),
        "a profile upn wins over email"
    );
    // mapIdentities (the action override beats the SP setting)
    let c = claims_for(
        json!({"mapIdentities": true}),
        SamlOverrides {
            map_identities: Some(false),
            ..Default::default()
        },
        &base,
    );
    assert!(names(&c).iter().all(|n| !n.contains("/identities/")));
    let mut with_token = base.clone();
    with_token["identities"][0]["access_token"] = json!("tok");
    let c = claims_for(json!({}), SamlOverrides::default(), &with_token);
    let ids: Vec<String> = names(&c).into_iter().filter(|n| n.contains("/identities/")).collect();
    assert_eq!(
        ids.first().map(String::as_str),
        Some("http://schemas.auth0.com/identities/default/access_token")
    );
    // passthroughClaimsWithNoMapping
    let c = claims_for(json!({"passthroughClaimsWithNoMapping": false}), SamlOverrides::default(), &base);
    assert!(names(&c).iter().all(|n| !n.starts_with(A0) || n.contains("/identities/")));
    // mapUnknownClaimsAsIs
    let c = claims_for(json!({"mapUnknownClaimsAsIs": true}), SamlOverrides::default(), &base);
    assert!(get(&c, "nickname").is_some() && get(&c, &format!("{A0}nickname")).is_none());
    // A tenant may set another pass-through prefix.
    let addon = AddonSettings::default();
    let mut t = tenant();
    t.passthrough_prefix = "urn:corp:".into();
    let req = RequestDefaults {
        request_issuer: None,
        acs_url: "https://sp/acs".into(),
        client_id: "c".into(),
        ..Default::default()
    };
    let s = resolve(&t, &addon, &SamlOverrides::default(), &req).expect("resolve");
    assert!(map_claims(&base, &s, &[]).iter().any(|c| c.name == "urn:corp:nickname"));
}

#[test]
fn sp_mappings_dotted_paths_multiple_uris_and_suppression() {
    let addon = json!({"mappings": {
        "user_metadata.color": "http://example.com/color",
        "email": "",
        "nickname": ["urn:a", "urn:b"],
        "app_metadata.roles": "http://example.com/roles"
    }});
    let c = claims_for(addon, SamlOverrides::default(), &user());
    assert_eq!(get(&c, "http://example.com/color"), Some(&vec![json!("blue")]));
    assert!(
        get(&c, &format!("{NS}emailaddress")).is_none(),
        "a mapping to \"\" suppresses the field"
    );
    assert!(get(&c, &format!("{A0}email")).is_none(), "a suppressed field is not passed through");
    assert_eq!(get(&c, "urn:a"), get(&c, "urn:b"));
    assert!(
        get(&c, &format!("{A0}nickname")).is_none(),
        "a mapped field is not passed through again"
    );
    assert_eq!(get(&c, "http://example.com/roles"), Some(&vec![json!("admin"), json!("editor")]));
    // Too many URIs, or a wrong type, is a clear settings error.
    let addon: AddonSettings = serde_json::from_value(json!({"mappings": {"x": ["1", "2", "3", "4", "5"]}})).expect("addon");
    let req = RequestDefaults {
        request_issuer: None,
        acs_url: "https://sp/acs".into(),
        client_id: "c".into(),
        ..Default::default()
    };
    let e = resolve(&tenant(), &addon, &SamlOverrides::default(), &req)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("mappings.x"), "{e}");
}

#[test]
fn action_attributes_override_in_place_remove_and_append() {
    let ov = SamlOverrides {
        attributes: vec![
            (format!("{NS}name"), Some(json!("Override"))),
            (format!("{NS}surname"), None),
            ("custom".into(), Some(json!([1, "two", true, null]))),
            ("later-removed".into(), Some(json!("x"))),
            ("later-removed".into(), None),
            ("empty".into(), Some(json!([]))),
        ],
        ..Default::default()
    };
    let mut profile = user();
    profile.insert("obj".into(), json!({"a": 1}));
    profile.insert("arr_obj".into(), json!([{"a": 1}]));
    profile.insert("nul".into(), Value::Null);
    let c = claims_for(json!({}), ov, &profile);
    let n = names(&c);
    assert_eq!(n.iter().position(|x| x == &format!("{NS}name")), Some(2), "overridden in place");
    assert_eq!(get(&c, &format!("{NS}name")), Some(&vec![json!("Override")]));
    assert!(get(&c, &format!("{NS}surname")).is_none());
    assert_eq!(n.last().map(String::as_str), Some("custom"));
    assert_eq!(get(&c, "custom"), Some(&vec![json!(1), json!("two"), json!(true)]));
    assert!(get(&c, "later-removed").is_none() && get(&c, "empty").is_none());
    for absent in ["obj", "arr_obj", "nul"] {
        assert!(get(&c, &format!("{A0}{absent}")).is_none(), "{absent} passed through");
    }
}

fn full(addon: Value, ov: SamlOverrides, with_request: bool) -> (String, saml::Issued) {
    let addon: AddonSettings = serde_json::from_value(addon).expect("addon");
    let t = tenant();
    let outcome = Outcome {
        saml: ov,
        ..Default::default()
    };
    let profile = user();
    let req = saml::request::parse_xml(&read("fixtures/saml/authn-request.xml")).expect("request");
    let issued = saml::issue(&saml::IssueInput {
        tenant: &t,
        addon: &addon,
        outcome: &outcome,
        profile: &profile,
        request: with_request.then_some(&req),
        acs_url: "https://sp.example.com/acs",
        client_id: "sp-basic",
        relay_state: Some("from-request"),
        session_index: "_sess",
        authn_instant: None,
        now: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .expect("time")
            .with_timezone(&Utc),
        name_id: None,
        authn_context_class_ref: None,
        ids: None,
    })
    .expect("issues");
    (issued.response.xml.clone(), issued)
}

fn one(xml: &str, x: &str) -> String {
    let v = xpath(xml, x);
    assert_eq!(v.len(), 1, "{x}: {v:?}");
    v[0].clone()
}

#[test]
fn defaults_of_an_sp_initiated_and_an_idp_initiated_response() {
    let (xml, issued) = full(json!({}), SamlOverrides::default(), true);
    assert_eq!(one(&xml, "/samlp:Response/@Destination"), "https://sp.example.com/acs");
    assert_eq!(one(&xml, "//saml:SubjectConfirmationData/@Recipient"), "https://sp.example.com/acs");
    assert_eq!(
        one(&xml, "//saml:Audience"),
        "https://sp.example.com/metadata",
        "audience = the request's Issuer"
    );
    assert_eq!(xpath(&xml, "//saml:Issuer"), vec!["urn:demo", "urn:demo"]);
    assert_eq!(one(&xml, "/samlp:Response/@InResponseTo"), "_req-4f8a2c91d3");
    assert_eq!(one(&xml, "//saml:SubjectConfirmationData/@InResponseTo"), "_req-4f8a2c91d3");
    assert_eq!(
        one(&xml, "//saml:NameID/@Format"),
        "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
    );
    assert_eq!(one(&xml, "//saml:NameID"), "auth0|5f7c8ec7c33c6c004bbafe82");
    assert_eq!(
        one(&xml, "//saml:AuthnContextClassRef"),
        "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
    );
    assert_eq!(one(&xml, "//saml:Conditions/@NotBefore"), "2026-11-23T10:00:00.123Z");
    assert_eq!(one(&xml, "//saml:Conditions/@NotOnOrAfter"), "2026-11-23T11:00:00.123Z");
    assert_eq!(
        one(&xml, "//saml:SubjectConfirmationData/@NotOnOrAfter"),
        "2026-11-23T11:00:00.123Z"
    );
    assert_eq!(one(&xml, "//saml:AuthnStatement/@SessionIndex"), "_sess");
    assert_eq!(
        one(&xml, "//saml:SubjectConfirmation/@Method"),
        "urn:oasis:names:tc:SAML:2.0:cm:bearer"
    );
    for id in [one(&xml, "/samlp:Response/@ID"), one(&xml, "//saml:Assertion/@ID")] {
        assert!(
            id.starts_with('_') && id.len() == 33 && id[1..].chars().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
    }
    assert_eq!(issued.relay_state.as_deref(), Some("from-request"));
    assert_eq!(
        one(&xml, &format!("//saml:Attribute[@Name='{NS}name']/@NameFormat")),
        "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
    );
    assert_eq!(
        one(
            &xml,
            &format!("//saml:Attribute[@Name='{A0}logins_count']/saml:AttributeValue/@xsi:type")
        ),
        "xs:double"
    );
    assert_eq!(
        one(&xml, &format!("//saml:Attribute[@Name='{A0}department']/saml:AttributeValue")),
        "R&D <core>"
    );
    // IdP-initiated: no InResponseTo, audience = the client id when the SP sets none.
    let (xml, _) = full(json!({}), SamlOverrides::default(), false);
    assert!(xpath(&xml, "//@InResponseTo").is_empty());
    assert_eq!(one(&xml, "//saml:Audience"), "sp-basic");
    let (xml, _) = full(json!({"audience": "urn:sp"}), SamlOverrides::default(), false);
    assert_eq!(one(&xml, "//saml:Audience"), "urn:sp");
}

#[test]
fn every_setter_changes_the_response() {
    let ov = SamlOverrides {
        audience: Some("urn:aud".into()),
        issuer: Some("urn:iss".into()),
        recipient: Some("https://r.example.com".into()),
        destination: Some("https://d.example.com".into()),
        relay_state: Some("rs-action".into()),
        lifetime_in_seconds: Some(600),
        name_identifier_format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into()),
        name_identifier_probes: Some(vec!["missing".into(), format!("{NS}emailaddress")]),
        authn_context_class_ref: Some("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport".into()),
        include_attribute_name_format: Some(false),
        typed_attributes: Some(false),
        ..Default::default()
    };
    // SP settings say otherwise: the action wins.
    let (xml, issued) = full(
        json!({"audience": "urn:sp-aud", "issuer": "urn:sp-iss", "lifetimeInSeconds": 60}),
        ov,
        true,
    );
    assert_eq!(one(&xml, "//saml:Audience"), "urn:aud");
    assert_eq!(xpath(&xml, "//saml:Issuer"), vec!["urn:iss", "urn:iss"]);
    assert_eq!(one(&xml, "//saml:SubjectConfirmationData/@Recipient"), "https://r.example.com");
    assert_eq!(one(&xml, "/samlp:Response/@Destination"), "https://d.example.com");
    assert_eq!(issued.relay_state.as_deref(), Some("rs-action"));
    assert_eq!(one(&xml, "//saml:Conditions/@NotOnOrAfter"), "2026-11-23T10:10:00.123Z");
    assert_eq!(
        one(&xml, "//saml:NameID/@Format"),
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    );
    assert_eq!(one(&xml, "//saml:NameID"), "jane.doe@example.com");
    assert_eq!(
        one(&xml, "//saml:AuthnContextClassRef"),
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    );
    assert!(xpath(&xml, "//saml:Attribute/@NameFormat").is_empty());
    assert!(xpath(&xml, "//saml:AttributeValue/@xsi:type").iter().all(|t| t == "xs:anyType"));
    // SP settings apply when no action overrides them.
    let (xml, _) = full(
        json!({"issuer": "urn:sp-iss", "lifetimeInSeconds": 60, "signatureAlgorithm": "rsa-sha1", "digestAlgorithm": "sha1"}),
        SamlOverrides::default(),
        true,
    );
    assert_eq!(xpath(&xml, "//saml:Issuer"), vec!["urn:sp-iss", "urn:sp-iss"]);
    assert_eq!(one(&xml, "//saml:Conditions/@NotOnOrAfter"), "2026-11-23T10:01:00.123Z");
    assert_eq!(
        one(&xml, "//ds:SignatureMethod/@Algorithm"),
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
    );
    assert_eq!(one(&xml, "//ds:DigestMethod/@Algorithm"), "http://www.w3.org/2000/09/xmldsig#sha1");
}

#[test]
fn invalid_sp_settings_are_clear_errors() {
    let req = RequestDefaults {
        request_issuer: None,
        acs_url: "https://sp/acs".into(),
        client_id: "c".into(),
        ..Default::default()
    };
    for (addon, needle) in [
        (json!({"lifetimeInSeconds": 0}), "lifetimeInSeconds"),
        (json!({"lifetimeInSeconds": "x"}), "lifetimeInSeconds"),
        (json!({"signatureAlgorithm": "rsa-sha512"}), "signatureAlgorithm"),
        (json!({"digestAlgorithm": "md5"}), "digestAlgorithm"),
        (json!({"audience": "urn:a\u{1}b"}), "audience"),
        (json!({"issuer": "urn:\u{1b}"}), "issuer"),
    ] {
        let a: AddonSettings = serde_json::from_value(addon.clone()).expect("parses");
        let e = resolve(&tenant(), &a, &SamlOverrides::default(), &req)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains(needle), "{addon}: {e}");
    }
    assert!(AddonSettings::from_json(r#"{"signResponse": "yes"}"#).is_err());
}

#[test]
fn what_the_sp_settings_fix_is_parsed_once_and_action_overrides_per_login() {
    let addon = AddonSettings::from_json(&read("fixtures/saml/sp-encrypted.json")).expect("settings");
    let req = RequestDefaults {
        request_issuer: None,
        acs_url: "https://sp.example.com/acs".into(),
        client_id: "sp".into(),
        ..Default::default()
    };
    assert_eq!(format!("{:?}", addon.parsed), "ParseCache(empty)");
    let first = resolve(&tenant(), &addon, &SamlOverrides::default(), &req).expect("resolves");
    assert_eq!(format!("{:?}", addon.parsed), "ParseCache(parsed)", "parsed on first use");
    let a = addon.parsed.get_or_parse(&addon).expect("cached") as *const _;
    let b = addon.parsed.get_or_parse(&addon).expect("cached") as *const _;
    assert!(std::ptr::eq(a, b), "the same parsed settings serve every login");
    // An action's override is parsed for its login; a bad one fails that login only.
    let ov = SamlOverrides {
        encryption_cert: Some("not a certificate".into()),
        encryption_public_key: Some(read("certs/sp-test.pub")),
        ..Default::default()
    };
    assert!(resolve(&tenant(), &addon, &ov, &req).is_err());
    let again = resolve(&tenant(), &addon, &SamlOverrides::default(), &req).expect("resolves");
    assert_eq!(first.encryption.expect("enc").cert_b64, again.encryption.expect("enc").cert_b64);
    // The cache is not part of the settings' value.
    assert_eq!(addon.clone(), addon);
}
