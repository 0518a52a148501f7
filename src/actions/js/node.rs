//! The host side of the Node and web globals (`node.js`): randomness, hashes and HMAC from
//! OpenSSL, WHATWG URL parsing and setters from the url crate. Bytes cross the boundary as
//! binary strings (one char per byte).

use openssl::hash::MessageDigest;
use serde_json::json;

/// Largest input hashed in one call (actions hash tokens and small documents).
const MAX_INPUT: usize = 16 * 1024 * 1024;

fn bytes(s: &str) -> Result<Vec<u8>, String> {
    if s.len() > MAX_INPUT * 2 {
        return Err("the input is too large".into());
    }
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).map_err(|_| "not a binary string".to_string()))
        .collect()
}

fn json_arg(s: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(s).map_err(|e| e.to_string())
}

fn binary(b: &[u8]) -> String {
    b.iter().map(|&x| char::from(x)).collect()
}

fn digest(alg: &str) -> Result<MessageDigest, String> {
    Ok(match alg {
        "sha1" => MessageDigest::sha1(),
        "sha256" => MessageDigest::sha256(),
        "sha384" => MessageDigest::sha384(),
        "sha512" => MessageDigest::sha512(),
        "md5" => MessageDigest::md5(),
        _ => return Err("Digest method not supported".into()),
    })
}

fn url_parts(u: &url::Url) -> String {
    use url::quirks;
    json!({
        "href": quirks::href(u), "protocol": quirks::protocol(u), "username": quirks::username(u),
        "password": quirks::password(u), "host": quirks::host(u), "hostname": quirks::hostname(u),
        "port": quirks::port(u), "pathname": quirks::pathname(u), "search": quirks::search(u),
        "hash": quirks::hash(u), "origin": quirks::origin(u),
    })
    .to_string()
}

/// `__idpipe_node(op, a, b, c)`.
pub(super) fn node_call(op: String, a: String, b: String, c: String) -> Result<String, String> {
    match op.as_str() {
        "random" => {
            let n: usize = a.parse().map_err(|_| "bad size".to_string())?;
            let mut buf = vec![0u8; n.min(65536)];
            openssl::rand::rand_bytes(&mut buf).map_err(|e| e.to_string())?;
            Ok(binary(&buf))
        }
        "hash" => {
            let out = openssl::hash::hash(digest(&a)?, &bytes(&c)?).map_err(|e| e.to_string())?;
            Ok(binary(&out))
        }
        "hmac" => {
            let key = openssl::pkey::PKey::hmac(&bytes(&b)?).map_err(|e| e.to_string())?;
            let mut signer = openssl::sign::Signer::new(digest(&a)?, &key).map_err(|e| e.to_string())?;
            let out = signer.sign_oneshot_to_vec(&bytes(&c)?).map_err(|e| e.to_string())?;
            Ok(binary(&out))
        }
        "url" => {
            let parsed = if c == "base" {
                url::Url::parse(&b).and_then(|base| url::Url::options().base_url(Some(&base)).parse(&a))
            } else {
                url::Url::parse(&a)
            };
            Ok(parsed.map_or_else(|e| json!({"error": e.to_string()}).to_string(), |u| url_parts(&u)))
        }
        "url-set" => {
            use url::quirks;
            let Ok(mut u) = url::Url::parse(&a) else {
                return Ok(json!({"error": "invalid"}).to_string());
            };
            let v = c.as_str();
            let ok = match b.as_str() {
                "href" => match url::Url::parse(v) {
                    Ok(n) => {
                        u = n;
                        true
                    }
                    Err(_) => false,
                },
                "protocol" => quirks::set_protocol(&mut u, v).is_ok(),
                "username" => quirks::set_username(&mut u, v).is_ok(),
                "password" => quirks::set_password(&mut u, v).is_ok(),
                "host" => quirks::set_host(&mut u, v).is_ok(),
                "hostname" => quirks::set_hostname(&mut u, v).is_ok(),
                "port" => quirks::set_port(&mut u, v).is_ok(),
                "pathname" => {
                    quirks::set_pathname(&mut u, v);
                    true
                }
                "search" => {
                    quirks::set_search(&mut u, v);
                    true
                }
                "hash" => {
                    quirks::set_hash(&mut u, v);
                    true
                }
                _ => false,
            };
            Ok(if ok {
                url_parts(&u)
            } else {
                json!({"error": "invalid"}).to_string()
            })
        }
        "zlib" => zlib(&a, &bytes(&c)?).map(|out| binary(&out)),
        // Keys: `a` a JSON parameter, `b`/`c` binary strings.
        "key-import" => super::keys::import(&a, &bytes(&c)?),
        "key-export" => super::keys::export(&a, &json_arg(&b)?).map(|out| binary(&out)),
        "key-generate" => super::keys::generate(&json_arg(&a)?),
        "sign" => {
            let p = json_arg(&a)?;
            super::keys::sign(&p["alg"], &p["key"], &bytes(&c)?).map(|out| binary(&out))
        }
        "verify" => {
            let p = json_arg(&a)?;
            super::keys::verify(&p["alg"], &p["key"], &bytes(&b)?, &bytes(&c)?).map(|ok| ok.to_string())
        }
        _ => Err(format!("unknown operation {op}")),
    }
}

/// Largest output of one decompression (a small archive must not expand without bound).
const MAX_INFLATED: u64 = 32 * 1024 * 1024;

/// `zlib.*Sync`: the zlib, raw deflate and gzip formats.
fn zlib(op: &str, input: &[u8]) -> Result<Vec<u8>, String> {
    use flate2::Compression;
    use std::io::{Read, Write};
    fn compress<W: Write>(mut w: W, input: &[u8], finish: impl FnOnce(W) -> std::io::Result<Vec<u8>>) -> Result<Vec<u8>, String> {
        w.write_all(input).map_err(|e| e.to_string())?;
        finish(w).map_err(|e| e.to_string())
    }
    fn expand(r: impl Read) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        r.take(MAX_INFLATED + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("{e} (Z_DATA_ERROR)"))?;
        if out.len() as u64 > MAX_INFLATED {
            return Err(format!("the output is larger than {MAX_INFLATED} bytes"));
        }
        Ok(out)
    }
    let level = Compression::default();
    match op {
        "deflate" => compress(flate2::write::ZlibEncoder::new(Vec::new(), level), input, |w| w.finish()),
        "deflate-raw" => compress(flate2::write::DeflateEncoder::new(Vec::new(), level), input, |w| w.finish()),
        "gzip" => compress(flate2::write::GzEncoder::new(Vec::new(), level), input, |w| w.finish()),
        "inflate" => expand(flate2::read::ZlibDecoder::new(input)),
        "inflate-raw" => expand(flate2::read::DeflateDecoder::new(input)),
        "gunzip" => expand(flate2::read::GzDecoder::new(input)),
        "unzip" if input.starts_with(&[0x1f, 0x8b]) => expand(flate2::read::GzDecoder::new(input)),
        "unzip" => expand(flate2::read::ZlibDecoder::new(input)),
        _ => Err(format!("unknown zlib operation {op}")),
    }
}
