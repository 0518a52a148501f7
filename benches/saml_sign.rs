//! Build+sign SAML responses per second, next to raw RSA-2048 signatures per second in the same run.
//! `cargo bench --bench saml_sign`

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use idpipe::pipeline::outcome::{SamlOverrides, SignatureAlgorithm};
use idpipe::saml::response::{ResponseContext, build_response};
use idpipe::saml::settings::{RequestDefaults, resolve};
use idpipe::saml::{AddonSettings, SigningKey, TenantSamlDefaults};
use serde_json::{Map, Value};

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let key = Arc::new(SigningKey::from_files(&root.join("certs/idp-test.crt"), &root.join("certs/idp-test.key")).expect("key"));
    let tenant = TenantSamlDefaults::new("demo", key.clone());
    let profile: Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(root.join("fixtures/users/jane.json")).expect("user")).expect("json");
    let req = RequestDefaults {
        request_issuer: Some("https://sp.example.com/metadata".into()),
        acs_url: "https://sp.example.com/acs".into(),
        client_id: "sp".into(),
        ..Default::default()
    };
    let ctx = ResponseContext {
        in_response_to: Some("_req".into()),
        session_index: "_sess".into(),
        now: Utc::now(),
        authn_instant: None,
        name_id: None,
        ids: None,
    };
    let attrs = vec![(
        "https://example.com/roles".to_string(),
        Some(serde_json::json!(["admin", "editor"])),
    )];
    let encrypted: AddonSettings =
        serde_json::from_str(&std::fs::read_to_string(root.join("fixtures/saml/sp-encrypted.json")).expect("sp")).expect("json");

    let assertion_signed = resolve(&tenant, &AddonSettings::default(), &SamlOverrides::default(), &req).expect("resolve");
    let response_signed = resolve(
        &tenant,
        &AddonSettings::default(),
        &SamlOverrides {
            sign_response: Some(true),
            ..Default::default()
        },
        &req,
    )
    .expect("resolve");
    let encrypted = resolve(&tenant, &encrypted, &SamlOverrides::default(), &req).expect("resolve");

    let mut g = c.benchmark_group("saml");
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw_rsa2048_sha256_sign", |b| {
        b.iter(|| {
            key.sign(SignatureAlgorithm::RsaSha256, black_box(b"0123456789abcdef0123456789abcdef"))
                .expect("sign")
        })
    });
    g.bench_function("response_assertion_signed", |b| {
        b.iter(|| build_response(&assertion_signed, black_box(&profile), &attrs, &ctx).expect("build"))
    });
    g.bench_function("response_response_signed", |b| {
        b.iter(|| build_response(&response_signed, black_box(&profile), &attrs, &ctx).expect("build"))
    });
    g.bench_function("response_signed_and_encrypted", |b| {
        b.iter(|| build_response(&encrypted, black_box(&profile), &attrs, &ctx).expect("build"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
