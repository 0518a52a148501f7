//! ID + access token issuance next to raw RS256 signatures, in the same run.
//! `cargo bench --bench oidc_tokens`. One iteration of `id_and_access_tokens` signs two tokens,
//! so its throughput is reported per token (2 elements).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use idpipe::oidc::{ApiResource, JwtSigner, OidcClient, TokenContext, issue_tokens};
use idpipe::pipeline::{Event, Outcome};
use serde_json::json;

fn bench(c: &mut Criterion) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let keys = JwtSigner::from_file(&root.join("certs/idp-test.key")).expect("key");
    let event: Event =
        serde_json::from_str(&std::fs::read_to_string(root.join("fixtures/events/post-login-typical.json")).expect("event")).expect("json");
    let mut outcome = Outcome::default();
    outcome
        .id_token_claims
        .insert("https://example.com/roles".into(), json!(["admin", "editor"]));
    outcome
        .access_token_claims
        .insert("https://example.com/roles".into(), json!(["admin", "editor"]));
    let client = OidcClient {
        client_id: "demo-app".into(),
        id_token_lifetime: 36_000,
    };
    let api = ApiResource {
        identifier: "https://api.example.com".into(),
        token_lifetime: 86_400,
    };
    let scopes: Vec<String> = ["openid", "profile", "email"].iter().map(|s| s.to_string()).collect();
    let ctx = TokenContext {
        issuer: "http://127.0.0.1:3000/",
        client: &client,
        api: Some(&api),
        requested_scopes: &scopes,
        nonce: Some("n"),
        session_id: Some("s"),
        auth_time: 1,
        now: 1,
        claims: None,
        acr_values: &[],
    };
    let mut g = c.benchmark_group("oidc");
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw_rs256_sign", |b| {
        b.iter(|| keys.raw_sign(black_box(&[7u8; 400])).expect("sign"))
    });
    g.throughput(Throughput::Elements(2));
    g.bench_function("id_and_access_tokens", |b| {
        b.iter(|| issue_tokens(&keys, black_box(&event), &outcome, &ctx, None).expect("tokens"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
