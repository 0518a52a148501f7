//! Strict reading of incoming SAML protocol messages and verification of their enveloped
//! XML-DSig signature, on one libxml2 tree.
//!
//! Why one tree: a signature-wrapping attack needs two readers that disagree (one finds the
//! signed element, the other reads the fields). Here the document is parsed once, strictly (no
//! recovery, no DTD, no entities, no network, UTF-8 only); the signature is located in that tree,
//! must reference the root element, and is verified over that root; the caller reads every field
//! from the same tree afterwards.
//!
//! Why not libxmlsec1's generic verifier: it processes whatever the signature asks for (remote
//! `Reference` URIs, XSLT, XPath, base64 transforms, any algorithm it knows). SAML needs exactly
//! one same-document reference with the enveloped-signature and exclusive-C14N transforms, so
//! that is all this module can do: anything else is refused before any work is done. The
//! canonical bytes come from libxml2's exclusive C14N (the canonicalizer xmlsec1 itself uses),
//! the digest and the RSA check from OpenSSL.

use base64::Engine;
use libxml::parser::{Parser, ParserOptions};
use libxml::tree::c14n::{CanonicalizationMode, CanonicalizationOptions};
use libxml::tree::{Document, Node, NodeType};
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;

use super::ns;
use super::request::RequestError;

const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const EXC_C14N_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";

/// Which signature and digest algorithms incoming requests may use. RSA with SHA-256, SHA-384
/// and SHA-512 always; SHA-1 only when allowed (it still is by default, like the hosted
/// service, because many SPs sign requests with it); MD5 and everything else never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlgorithmPolicy {
    /// Accept `rsa-sha1` signatures and `sha1` digests.
    pub allow_sha1: bool,
}

impl Default for AlgorithmPolicy {
    fn default() -> Self {
        AlgorithmPolicy { allow_sha1: true }
    }
}

impl AlgorithmPolicy {
    /// The digest of an RSA signature algorithm URI (XML-DSig or the redirect binding's `SigAlg`).
    pub fn signature_digest(&self, uri: &str) -> Result<MessageDigest, RequestError> {
        match uri {
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Ok(MessageDigest::sha256()),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Ok(MessageDigest::sha384()),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Ok(MessageDigest::sha512()),
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1" if self.allow_sha1 => Ok(MessageDigest::sha1()),
            other => Err(RequestError::BadSignature(format!(
                "unsupported signature algorithm '{other}' (rsa-sha256, rsa-sha384, rsa-sha512{})",
                if self.allow_sha1 { " or rsa-sha1" } else { "" }
            ))),
        }
    }

    /// The digest of a `DigestMethod` URI.
    pub fn digest(&self, uri: &str) -> Result<MessageDigest, RequestError> {
        match uri {
            "http://www.w3.org/2001/04/xmlenc#sha256" => Ok(MessageDigest::sha256()),
            "http://www.w3.org/2001/04/xmldsig-more#sha384" => Ok(MessageDigest::sha384()),
            "http://www.w3.org/2001/04/xmlenc#sha512" => Ok(MessageDigest::sha512()),
            "http://www.w3.org/2000/09/xmldsig#sha1" if self.allow_sha1 => Ok(MessageDigest::sha1()),
            other => Err(RequestError::BadSignature(format!("unsupported digest algorithm '{other}'"))),
        }
    }
}

/// Refuses text that two XML readers could read differently, before any parser sees it:
/// a declared encoding other than UTF-8 (UTF-7 and friends), a byte-order mark, a DTD, and
/// character or entity references inside namespace declarations.
fn precheck(xml: &str) -> Result<(), RequestError> {
    if xml.starts_with('\u{feff}') {
        return Err(RequestError::Malformed("a byte-order mark is not allowed".into()));
    }
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err(RequestError::Dtd);
    }
    if let Some(rest) = xml.strip_prefix("<?xml") {
        let decl = rest.split("?>").next().unwrap_or_default();
        if let Some(pos) = decl.find("encoding") {
            let value: String = decl[pos + "encoding".len()..]
                .trim_start()
                .trim_start_matches('=')
                .trim_start()
                .chars()
                .skip(1)
                .take_while(|c| *c != '"' && *c != '\'')
                .collect();
            if !value.eq_ignore_ascii_case("utf-8") {
                return Err(RequestError::Malformed(format!(
                    "the declared encoding '{value}' is not allowed (UTF-8 only)"
                )));
            }
        }
    }
    // Any `xmlns...="..."` whose raw value holds a reference: refused even where it would
    // resolve to a harmless namespace (this reader only refuses, it never accepts). Linear: each
    // step looks only at the attribute right after `xmlns` (an unbounded search from every
    // occurrence was quadratic: 250 ms of CPU for a 45 KB request).
    let bytes = xml.as_bytes();
    let mut from = 0;
    while let Some(i) = xml[from..].find("xmlns") {
        let mut j = from + i + 5;
        from = j;
        while j < bytes.len() && (bytes[j] == b':' || bytes[j].is_ascii_alphanumeric() || b"_-.".contains(&bytes[j])) {
            j += 1;
        }
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if bytes.get(j) != Some(&b'=') {
            continue;
        }
        j += 1;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        let Some(&quote) = bytes.get(j).filter(|q| **q == b'"' || **q == b'\'') else {
            continue;
        };
        let Some(len) = xml[j + 1..].find(quote as char) else {
            // No closing quote anywhere after: the parser refuses the document anyway.
            break;
        };
        if xml[j + 1..j + 1 + len].contains('&') {
            return Err(RequestError::Malformed(
                "character or entity references in namespace declarations are not allowed".into(),
            ));
        }
        from = j + 1 + len;
    }
    Ok(())
}

/// Parses `xml` strictly with libxml2: well-formed or refused (no error recovery), no DTD, no
/// entity expansion, no network, UTF-8 forced; the document must be one root element (comments
/// aside) whose namespace names are all absolute URIs.
pub fn parse_strict(xml: &str) -> Result<Document, RequestError> {
    precheck(xml)?;
    crate::ffi::route_libxml_errors();
    let options = ParserOptions {
        recover: false,
        no_def_dtd: true,
        no_error: true,
        no_warning: true,
        pedantic: false,
        no_blanks: false,
        no_net: true,
        no_implied: false,
        compact: false,
        ignore_enc: false,
        encoding: Some("UTF-8"),
        huge: false,
    };
    let doc = Parser::default()
        .parse_string_with_options(xml, options)
        .map_err(|_| RequestError::Malformed("not well-formed XML".into()))?;
    let mut roots = 0;
    for n in doc.as_node().get_child_nodes() {
        match n.get_type() {
            Some(NodeType::ElementNode) => roots += 1,
            Some(NodeType::CommentNode) => {}
            Some(NodeType::DocumentTypeNode | NodeType::DTDNode) => return Err(RequestError::Dtd),
            _ => return Err(RequestError::Malformed("only one root element is allowed at the top level".into())),
        }
    }
    if roots != 1 {
        return Err(RequestError::Malformed("no root element".into()));
    }
    let root = doc
        .get_root_element()
        .ok_or_else(|| RequestError::Malformed("no root element".into()))?;
    check_tree(&root, 0)?;
    Ok(doc)
}

/// Every node is an element, text, CDATA or comment (no entity references, no processing
/// instructions); every namespace name is absolute (exclusive C14N refuses relative ones).
fn check_tree(node: &Node, depth: usize) -> Result<(), RequestError> {
    if depth > 64 {
        return Err(RequestError::Malformed("elements are nested too deeply".into()));
    }
    for ns in node.get_namespace_declarations() {
        let href = ns.get_href();
        if !href.contains(':') {
            return Err(RequestError::Malformed(format!(
                "the namespace name '{href}' is not an absolute URI"
            )));
        }
    }
    for child in node.get_child_nodes() {
        match child.get_type() {
            Some(NodeType::ElementNode) => check_tree(&child, depth + 1)?,
            Some(NodeType::TextNode | NodeType::CDataSectionNode | NodeType::CommentNode) => {}
            _ => {
                return Err(RequestError::Malformed(
                    "entity references and processing instructions are not allowed".into(),
                ));
            }
        }
    }
    Ok(())
}

/// Whether `node` is the element `{ns}local`.
pub fn is(node: &Node, namespace: &str, local: &str) -> bool {
    node.get_type() == Some(NodeType::ElementNode)
        && node.get_name() == local
        && node.get_namespace().is_some_and(|n| n.get_href() == namespace)
}

/// Every `ds:Signature` element in the subtree of `node`.
fn signatures(node: &Node, out: &mut Vec<Node>) {
    for child in node.get_child_elements() {
        if is(&child, ns::DSIG, "Signature") {
            out.push(child.clone());
        }
        signatures(&child, out);
    }
}

/// Whether the document carries any `ds:Signature` at all.
pub fn has_signature(doc: &Document) -> bool {
    let mut all = Vec::new();
    if let Some(root) = doc.get_root_element() {
        signatures(&root, &mut all);
    }
    !all.is_empty()
}

fn structure(msg: &str) -> RequestError {
    RequestError::SignatureStructure(msg.to_string())
}

/// The element children of `node`; text other than whitespace is refused.
fn elements(node: &Node) -> Result<Vec<Node>, RequestError> {
    for c in node.get_child_nodes() {
        if c.get_type() == Some(NodeType::TextNode) && !c.get_content().trim().is_empty() {
            return Err(structure("unexpected text inside the signature"));
        }
    }
    Ok(node.get_child_elements())
}

fn one<'a>(children: &'a [Node], local: &str) -> Result<&'a Node, RequestError> {
    let mut found = children.iter().filter(|c| is(c, ns::DSIG, local));
    match (found.next(), found.next()) {
        (Some(n), None) => Ok(n),
        (None, _) => Err(structure(&format!("the signature has no {local}"))),
        _ => Err(structure(&format!("the signature has more than one {local}"))),
    }
}

fn algorithm(node: &Node) -> String {
    node.get_attribute_no_ns("Algorithm").unwrap_or_default()
}

/// The `InclusiveNamespaces/@PrefixList` of an exclusive-C14N method or transform; any other
/// child is refused.
fn inclusive_prefixes(method: &Node) -> Result<Vec<String>, RequestError> {
    let mut prefixes = Vec::new();
    for c in elements(method)? {
        if is(&c, EXC_C14N, "InclusiveNamespaces") {
            let list = c.get_attribute_no_ns("PrefixList").unwrap_or_default();
            prefixes.extend(
                list.split_whitespace()
                    .map(|p| if p == "#default" { String::new() } else { p.to_string() }),
            );
        } else {
            return Err(structure("a C14N method may only carry InclusiveNamespaces"));
        }
    }
    Ok(prefixes)
}

fn decode_b64(text: &str, what: &str) -> Result<Vec<u8>, RequestError> {
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .map_err(|_| structure(&format!("the {what} is not base64")))
}

/// Only the children `allowed` (in the dsig namespace) may appear under `node`.
fn only(children: &[Node], allowed: &[&str], within: &str) -> Result<(), RequestError> {
    match children.iter().find(|c| !allowed.iter().any(|l| is(c, ns::DSIG, l))) {
        Some(c) => Err(structure(&format!("unexpected element {} in {within}", c.get_name()))),
        None => Ok(()),
    }
}

/// A signature that passed every structural and algorithm check, ready for the crypto.
struct CheckedSignature {
    signature: Node,
    signed_info: Node,
    signature_value: Vec<u8>,
    si_comments: bool,
    si_prefixes: Vec<String>,
    sig_md: MessageDigest,
    ref_prefixes: Vec<String>,
    digest_md: MessageDigest,
    digest_value: Vec<u8>,
}

/// The one Signature: a child of the root, nothing but SignedInfo, SignatureValue, KeyInfo.
fn locate(root: &Node) -> Result<Node, RequestError> {
    let mut all = Vec::new();
    signatures(root, &mut all);
    let signature = match all.as_slice() {
        [] => return Err(RequestError::Unsigned),
        [s] => s.clone(),
        _ => return Err(structure("more than one Signature")),
    };
    if signature.get_parent().is_none_or(|p| p != *root) {
        return Err(structure("the Signature must be a child of the request's root element"));
    }
    Ok(signature)
}

/// The Reference's transforms: enveloped-signature first, then at most one exclusive C14N (its
/// inclusive prefixes returned); anything else refused.
fn check_transforms(rparts: &[Node]) -> Result<Vec<String>, RequestError> {
    let (mut enveloped, mut c14n_seen, mut prefixes) = (false, false, Vec::new());
    if let Some(transforms) = rparts.iter().find(|p| is(p, ns::DSIG, "Transforms")) {
        for t in elements(transforms)? {
            if !is(&t, ns::DSIG, "Transform") {
                return Err(structure("Transforms may only hold Transform elements"));
            }
            match algorithm(&t).as_str() {
                ENVELOPED if !enveloped && !c14n_seen => {
                    if !elements(&t)?.is_empty() {
                        return Err(structure("the enveloped-signature transform takes no parameters"));
                    }
                    enveloped = true;
                }
                EXC_C14N | EXC_C14N_COMMENTS if !c14n_seen => {
                    prefixes = inclusive_prefixes(&t)?;
                    c14n_seen = true;
                }
                other => {
                    return Err(RequestError::BadSignature(format!(
                        "transform '{other}' is not allowed (enveloped-signature and exclusive C14N only)"
                    )));
                }
            }
        }
    }
    if !enveloped {
        return Err(structure("the signature must be enveloped (enveloped-signature transform)"));
    }
    Ok(prefixes)
}

/// Every check that needs no cryptography, so that nothing else is ever processed.
fn check(root: &Node, policy: AlgorithmPolicy) -> Result<CheckedSignature, RequestError> {
    let signature = locate(root)?;
    let root_id = root
        .get_attribute_no_ns("ID")
        .ok_or_else(|| RequestError::Invalid("the ID attribute is missing".into()))?;
    let parts = elements(&signature)?;
    only(&parts, &["SignedInfo", "SignatureValue", "KeyInfo"], "the Signature")?;
    let signed_info = one(&parts, "SignedInfo")?.clone();
    let signature_value = decode_b64(&one(&parts, "SignatureValue")?.get_content(), "SignatureValue")?;
    let si = elements(&signed_info)?;
    only(&si, &["CanonicalizationMethod", "SignatureMethod", "Reference"], "SignedInfo")?;
    let c14n_method = one(&si, "CanonicalizationMethod")?;
    let si_comments = match algorithm(c14n_method).as_str() {
        EXC_C14N => false,
        EXC_C14N_COMMENTS => true,
        other => {
            return Err(RequestError::BadSignature(format!(
                "unsupported canonicalization '{other}' (exclusive C14N only)"
            )));
        }
    };
    let reference = one(&si, "Reference")?;
    if reference.get_attribute_no_ns("URI").as_deref() != Some(&format!("#{root_id}")) {
        return Err(structure("the signature does not reference the request's ID"));
    }
    if reference.get_attribute_no_ns("Type").is_some_and(|t| !t.is_empty()) {
        return Err(structure("a typed Reference is not allowed"));
    }
    let rparts = elements(reference)?;
    only(&rparts, &["Transforms", "DigestMethod", "DigestValue"], "Reference")?;
    Ok(CheckedSignature {
        si_prefixes: inclusive_prefixes(c14n_method)?,
        sig_md: policy.signature_digest(&algorithm(one(&si, "SignatureMethod")?))?,
        ref_prefixes: check_transforms(&rparts)?,
        digest_md: policy.digest(&algorithm(one(&rparts, "DigestMethod")?))?,
        digest_value: decode_b64(&one(&rparts, "DigestValue")?.get_content(), "DigestValue")?,
        signature,
        signed_info,
        signature_value,
        si_comments,
    })
}

fn exclusive_c14n(node: &Node, with_comments: bool, prefixes: Vec<String>, what: &str) -> Result<String, RequestError> {
    let mut node = node.clone();
    node.canonicalize(CanonicalizationOptions {
        mode: CanonicalizationMode::ExclusiveCanonical1_0,
        with_comments,
        inclusive_ns_prefixes: prefixes,
    })
    .map_err(|_| RequestError::BadSignature(format!("{what} cannot be canonicalized")))
}

/// Verifies the one enveloped signature of the root element of `doc` with `cert`.
///
/// Refused before any cryptographic work: no signature (`Unsigned`), more than one, one that is
/// not a child of the root, a `Reference` other than exactly one `#<root ID>`, a transform other
/// than enveloped-signature and exclusive C14N, an `Object`, an algorithm the policy does not
/// allow. Then the SignedInfo's signature is checked, and the digest of the root (without its
/// signature) compared. The tree is left with the signature removed (and freed).
pub fn verify_enveloped(doc: &Document, cert: &X509, policy: AlgorithmPolicy) -> Result<(), RequestError> {
    let root = doc
        .get_root_element()
        .ok_or_else(|| RequestError::Malformed("no root element".into()))?;
    let c = check(&root, policy)?;
    // 1. SignedInfo, canonicalized in place (its in-scope namespaces matter), signed by the SP.
    let si_bytes = exclusive_c14n(&c.signed_info, c.si_comments, c.si_prefixes, "SignedInfo")?;
    let key = cert
        .public_key()
        .map_err(|_| RequestError::BadSignature("the SP certificate has no usable key".into()))?;
    let mut v = Verifier::new(c.sig_md, &key).map_err(|e| RequestError::BadSignature(e.to_string()))?;
    v.update(si_bytes.as_bytes())
        .map_err(|e| RequestError::BadSignature(e.to_string()))?;
    if !v.verify(&c.signature_value).unwrap_or(false) {
        return Err(RequestError::BadSignature("the signature does not match".into()));
    }
    // 2. The root without its signature (enveloped transform), removed for good (an unlinked
    // libxml2 subtree is freed by nobody: found by the fuzzer). A same-document `#id` reference
    // never includes comments, whichever C14N variant is named.
    c.signature.free_subtree();
    let bytes = exclusive_c14n(&root, false, c.ref_prefixes, "the request")?;
    let computed = openssl::hash::hash(c.digest_md, bytes.as_bytes()).map_err(|e| RequestError::BadSignature(e.to_string()))?;
    if !crate::util::constant_time_eq(&computed, &c.digest_value) {
        return Err(RequestError::BadSignature(
            "the digest does not match (the request was altered)".into(),
        ));
    }
    Ok(())
}
