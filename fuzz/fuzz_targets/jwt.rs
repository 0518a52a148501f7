//! The JWT reader behind `id_token_hint` (RP-initiated logout) and `/userinfo`: any text as a
//! compact JWS, verified with the tenant key.
#![no_main]

use std::sync::OnceLock;

use idpipe::oidc::JwtSigner;
use libfuzzer_sys::fuzz_target;

fn signer() -> &'static JwtSigner {
    static S: OnceLock<JwtSigner> = OnceLock::new();
    S.get_or_init(|| JwtSigner::from_pem(include_str!("../../certs/idp-test.key")).expect("test key"))
}

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let _ = signer().verify(&token);
});
