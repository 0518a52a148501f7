//! The tenant configuration reader: any text as a tenant TOML file (run from the repository
//! root, so the seed's relative key and fixture paths resolve and validation goes deep).
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static CWD: Once = Once::new();
    CWD.call_once(|| {
        let _ = std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    });
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = idpipe::config::load_str(text, "fuzz.toml");
    }
});
