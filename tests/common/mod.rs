//! Shared helpers: fixtures, and the independent verifiers (xmlsec1, libxml2's C14N,
//! python3-saml) that prove idpipe's output.
#![allow(dead_code)]

pub mod idp;
pub mod pg;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use idpipe::saml::{SigningKey, TenantSamlDefaults};
use serde_json::{Map, Value};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub fn signing_key() -> Arc<SigningKey> {
    Arc::new(SigningKey::from_files(&root().join("certs/idp-test.crt"), &root().join("certs/idp-test.key")).expect("test key"))
}

pub fn tenant() -> TenantSamlDefaults {
    TenantSamlDefaults::new("demo", signing_key())
}

pub fn user() -> Map<String, Value> {
    serde_json::from_str(&read("fixtures/users/jane.json")).expect("user fixture")
}

fn temp_file(content: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(content.as_bytes()).expect("write temp");
    f
}

/// `xmlsec1 --verify` of the signature on the element `node` (e.g.
/// `urn:oasis:names:tc:SAML:2.0:assertion:Assertion`) with the IdP test certificate.
pub fn xmlsec_verify(xml: &str, node: &str) -> Result<(), String> {
    xmlsec_verify_with(xml, node, "certs/idp-test.crt")
}

pub fn xmlsec_verify_with(xml: &str, node: &str, cert: &str) -> Result<(), String> {
    let f = temp_file(xml);
    let out = Command::new("xmlsec1")
        .args(["--verify", "--pubkey-cert-pem"])
        .arg(root().join(cert))
        .arg("--id-attr:ID")
        .arg(node)
        .arg(f.path())
        .output()
        .map_err(|e| format!("xmlsec1 not runnable: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `xmlsec1 --decrypt` with the SP's test key; returns the decrypted document.
pub fn xmlsec_decrypt(xml: &str) -> Result<String, String> {
    let f = temp_file(xml);
    let out = Command::new("xmlsec1")
        .args(["--decrypt", "--privkey-pem"])
        .arg(root().join("certs/sp-test.key"))
        .arg(f.path())
        .output()
        .map_err(|e| format!("xmlsec1 not runnable: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// libxml2's exclusive C14N of the element with `ID=id`, without its enveloped Signature.
pub fn libxml_exc_c14n(xml: &str, id: &str) -> String {
    libxml_c14n_nodes(
        xml,
        &format!(
            "(//. | //@* | //namespace::*)[ancestor-or-self::*[@ID='{id}']][not(ancestor-or-self::*[local-name()='Signature' and namespace-uri()='http://www.w3.org/2000/09/xmldsig#' and parent::*[@ID='{id}']])]"
        ),
    )
}

/// libxml2's exclusive C14N of the SignedInfo of the signature enveloped in element `id`.
pub fn libxml_signed_info_c14n(xml: &str, id: &str) -> String {
    libxml_c14n_nodes(
        xml,
        &format!(
            "(//. | //@* | //namespace::*)[ancestor-or-self::*[local-name()='SignedInfo' and parent::*[local-name()='Signature' and parent::*[@ID='{id}']]]]"
        ),
    )
}

fn libxml_c14n_nodes(xml: &str, xpath: &str) -> String {
    let doc = libxml::parser::Parser::default()
        .parse_string(xml)
        .expect("libxml parses our output");
    let ctx = libxml::xpath::Context::new(&doc).expect("xpath context");
    let obj = ctx.evaluate(xpath).expect("xpath");
    let mut out: *mut u8 = std::ptr::null_mut();
    // SAFETY: obj.ptr is a live XPath object owned by `obj`; libxml2 allocates `out`, freed below.
    let n = unsafe {
        let nodes = (*obj.ptr).nodesetval;
        libxml::bindings::xmlC14NDocDumpMemory(doc.doc_ptr(), nodes, 1, std::ptr::null_mut(), 0, &mut out)
    };
    assert!(n >= 0 && !out.is_null(), "libxml2 C14N failed");
    // SAFETY: libxml2 returned n valid bytes at out.
    let bytes = unsafe { std::slice::from_raw_parts(out, n as usize) }.to_vec();
    unsafe { libxml::bindings::xmlFree.expect("xmlFree")(out as *mut std::ffi::c_void) };
    String::from_utf8(bytes).expect("utf-8")
}

/// Values of an XPath over a document (prefixes samlp, saml, ds, xenc registered).
pub fn xpath(xml: &str, expr: &str) -> Vec<String> {
    let doc = libxml::parser::Parser::default().parse_string(xml).expect("parses");
    let mut ctx = libxml::xpath::Context::new(&doc).expect("ctx");
    for (p, u) in [
        ("samlp", "urn:oasis:names:tc:SAML:2.0:protocol"),
        ("saml", "urn:oasis:names:tc:SAML:2.0:assertion"),
        ("ds", "http://www.w3.org/2000/09/xmldsig#"),
        ("xenc", "http://www.w3.org/2001/04/xmlenc#"),
        ("xsi", "http://www.w3.org/2001/XMLSchema-instance"),
        ("md", "urn:oasis:names:tc:SAML:2.0:metadata"),
    ] {
        ctx.register_namespace(p, u).expect("ns");
    }
    ctx.findnodes(expr, None).expect("xpath").iter().map(|n| n.get_content()).collect()
}

/// Runs `tests/python/{script}` with a JSON job on stdin; returns its JSON output. `context` is
/// added to the failure message (e.g. a server's log).
pub fn run_python(script: &str, job: &Value, context: &str) -> Value {
    let mut child = Command::new("python3")
        .arg(root().join("tests/python").join(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(job.to_string().as_bytes())
        .expect("write job");
    let out = child.wait_with_output().expect("python3 finishes");
    assert!(
        out.status.success(),
        "{script} crashed: {}\n{context}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{script}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Runs python3-saml as the SP on a job; returns its JSON verdict.
pub fn python_sp(job: &Value) -> Value {
    run_python("sp_check.py", job, "")
}

/// An HS256 JWT (what a redirect target such as a consent app sends back to `/continue`).
pub fn sign_hs256(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}
