//! `idpipe kit saml`: SAML Responses as idpipe issues them for an SP, valid and deliberately
//! broken, each as XML and as the base64 `SAMLResponse` of the POST binding, with a manifest.
//! Broken variants are either issued wrong (time, audience, recipient, issuer, InResponseTo,
//! key, algorithm) or changed after signing (signature removed, attribute changed, assertion
//! duplicated, status changed, a comment in the NameID).

use std::sync::Arc;

use base64::Engine;
use serde_json::{Map, Value, json};

use super::{Fixture, KitError, Verdict, derived, write};
use crate::saml::{self, AddonSettings, SigningKey, TenantSamlDefaults};

/// What the kit is made for.
pub struct SamlKitInput {
    /// The SP's settings (the add-on settings JSON of the tenant file).
    pub sp: Value,
    /// The user.
    pub user: Map<String, Value>,
    /// The SP's ACS URL (Recipient, Destination).
    pub acs: String,
    /// The issue time.
    pub now: chrono::DateTime<chrono::Utc>,
    /// Seed of the request ID the responses answer.
    pub seed: String,
    /// The tenant name (the default issuer `urn:<tenant>`).
    pub tenant: String,
}

/// The keys: the one the SP trusts and a stranger's.
pub struct SamlKitKeys {
    /// Signs the valid responses (the SP has its certificate).
    pub current: Arc<SigningKey>,
    /// A key the SP never trusted.
    pub other: Arc<SigningKey>,
}

fn err(e: impl std::fmt::Display) -> KitError {
    KitError::Sign(e.to_string())
}

struct Issue<'a> {
    input: &'a SamlKitInput,
    request_id: String,
    /// How many responses were issued: the IDs come from the seed and this count, so the same
    /// seed gives the same IDs (the fixtures are issued in a fixed order).
    issued: std::cell::Cell<u32>,
}

impl Issue<'_> {
    /// A response for the SP settings patched with `patch`, at `now`, to `acs`, answering
    /// `in_response_to`, signed with `key`, for a NameID override.
    fn response(
        &self,
        patch: Value,
        now: chrono::DateTime<chrono::Utc>,
        acs: &str,
        in_response_to: &str,
        key: &Arc<SigningKey>,
        name_id: Option<(String, String)>,
    ) -> Result<String, KitError> {
        let mut sp = self.input.sp.clone();
        if let (Some(o), Value::Object(p)) = (sp.as_object_mut(), patch) {
            o.extend(p);
        }
        let addon = AddonSettings::from_json(&sp.to_string()).map_err(|e| KitError::Input(format!("the SP settings: {e}")))?;
        let tenant = TenantSamlDefaults::new(&self.input.tenant, key.clone());
        let n = self.issued.get();
        self.issued.set(n + 1);
        let request = saml::AuthnRequest {
            id: in_response_to.to_string(),
            assertion_consumer_service_url: Some(acs.to_string()),
            ..Default::default()
        };
        let issued = saml::issue(&saml::IssueInput {
            tenant: &tenant,
            addon: &addon,
            outcome: &Default::default(),
            profile: &self.input.user,
            request: Some(&request),
            acs_url: acs,
            client_id: "kit-sp",
            relay_state: None,
            session_index: &format!("_{}", derived(&self.input.seed, "session")),
            authn_instant: None,
            now,
            name_id,
            authn_context_class_ref: None,
            ids: Some((
                format!("_a{}", derived(&self.input.seed, &format!("assertion {n}"))),
                format!("_r{}", derived(&self.input.seed, &format!("response {n}"))),
            )),
        })
        .map_err(err)?;
        Ok(issued.response.xml)
    }
}

/// Removes the first `<Signature ...>...</Signature>` (xmldsig, default namespace).
fn strip_signature(xml: &str) -> String {
    match (
        xml.find("<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\">"),
        xml.find("</Signature>"),
    ) {
        (Some(a), Some(b)) if b > a => format!("{}{}", &xml[..a], &xml[b + "</Signature>".len()..]),
        _ => xml.to_string(),
    }
}

/// Writes the kit into `out`; returns the manifest's fixtures.
pub fn write_kit(input: &SamlKitInput, keys: &SamlKitKeys, out: &std::path::Path) -> Result<Vec<Fixture>, KitError> {
    std::fs::create_dir_all(out).map_err(|e| KitError::Io {
        path: out.display().to_string(),
        reason: e.to_string(),
    })?;
    let issue = Issue {
        input,
        request_id: format!("_kit-{}", derived(&input.seed, "request")),
        issued: std::cell::Cell::new(0),
    };
    let now = input.now;
    let rid = issue.request_id.clone();
    let acs = input.acs.clone();
    let current = keys.current.clone();
    let plain = |patch: Value| issue.response(patch, now, &acs, &rid, &current, None);
    let encrypting = input.sp.get("encryptionCert").is_some();
    use Verdict::{Accept, Reject};
    let mut fixtures: Vec<(Fixture, String)> = Vec::new();
    let mut add = |name: &str, description: &str, check: &str, verdict: Verdict, xml: String| {
        fixtures.push((
            Fixture {
                file: format!("{name}.xml"),
                kind: "saml_response".into(),
                description: description.into(),
                check: check.into(),
                verdict,
            },
            xml,
        ));
    };
    let assertion_signed = plain(json!({"signResponse": false}))?;
    add(
        "valid.assertion-signed",
        "Valid: the assertion is signed (RSA-SHA256).",
        "none",
        Accept,
        assertion_signed.clone(),
    );
    add(
        "valid.response-signed",
        "Valid: the response is signed.",
        "none",
        Accept,
        plain(json!({"signResponse": true}))?,
    );
    add(
        "valid.both-signed",
        "Valid: the response and the assertion are signed.",
        "none",
        Accept,
        plain(json!({"signResponseAndAssertion": true}))?,
    );
    if encrypting {
        add(
            "valid.encrypted-gcm",
            "Valid: the signed assertion encrypted with AES-256-GCM.",
            "none",
            Accept,
            plain(json!({"encryptionAlgorithm": "http://www.w3.org/2009/xmlenc11#aes256-gcm"}))?,
        );
        add(
            "valid.encrypted-cbc",
            "Valid: the signed assertion encrypted with AES-256-CBC.",
            "none",
            Accept,
            plain(json!({"encryptionAlgorithm": "http://www.w3.org/2001/04/xmlenc#aes256-cbc"}))?,
        );
    }
    // Broken ones are built on the assertion-signed, unencrypted form.
    let unencrypted = json!({"signResponse": false, "encryptionCert": null, "encryptionPublicKey": null});
    let patched = |extra: Value| {
        let mut p = unencrypted.clone();
        if let (Some(o), Value::Object(e)) = (p.as_object_mut(), extra) {
            o.extend(e);
        }
        p
    };
    let base = issue.response(unencrypted.clone(), now, &acs, &rid, &current, None)?;
    // Issued now, to the ACS, for the request, by the trusted key, with other SP settings.
    let with_settings = |extra: Value| issue.response(patched(extra), now, &acs, &rid, &current, None);
    add(
        "expired",
        "Issued two hours ago: NotOnOrAfter has passed.",
        "time",
        Reject,
        issue.response(unencrypted.clone(), now - chrono::Duration::hours(2), &acs, &rid, &current, None)?,
    );
    add(
        "not-yet-valid",
        "Issued an hour from now: NotBefore is in the future.",
        "time",
        Reject,
        issue.response(unencrypted.clone(), now + chrono::Duration::hours(1), &acs, &rid, &current, None)?,
    );
    add(
        "wrong-audience",
        "The Audience is another SP.",
        "audience",
        Reject,
        with_settings(json!({"audience": "https://other-sp.example.com/metadata"}))?,
    );
    add(
        "wrong-destination",
        "Recipient and Destination are another ACS.",
        "destination",
        Reject,
        issue.response(unencrypted.clone(), now, "https://evil.example.com/acs", &rid, &current, None)?,
    );
    add(
        "wrong-in-response-to",
        "InResponseTo names a request the SP never sent.",
        "in_response_to",
        Reject,
        issue.response(unencrypted.clone(), now, &acs, "_a-request-never-sent", &current, None)?,
    );
    add(
        "wrong-issuer",
        "The Issuer is not the IdP the SP trusts.",
        "issuer",
        Reject,
        with_settings(json!({"issuer": "urn:evil-idp"}))?,
    );
    add(
        "unsigned",
        "The assertion-signed response with its signature removed.",
        "signature",
        Reject,
        strip_signature(&base),
    );
    add(
        "other-key",
        "Signed by a key the SP does not trust.",
        "signature",
        Reject,
        issue.response(unencrypted.clone(), now, &acs, &rid, &keys.other, None)?,
    );
    let first_value = base
        .find("<saml:AttributeValue")
        .and_then(|a| base[a..].find('>').map(|b| a + b + 1));
    let modified = match first_value {
        Some(i) => format!("{}admin-{}", &base[..i], &base[i..]),
        None => return Err(KitError::Input("the SP settings map no attribute to modify".into())),
    };
    add(
        "modified-attribute",
        "An attribute value changed after signing.",
        "signature",
        Reject,
        modified,
    );
    // The classic duplicate: an unsigned assertion for another user before the signed one.
    let duplicated = match (base.find("<saml:Assertion "), base.find("</saml:Assertion>")) {
        (Some(a), Some(b)) => {
            let signed = &base[a..b + "</saml:Assertion>".len()];
            let forged = strip_signature(signed).replacen(" ID=\"", " ID=\"_forged", 1);
            let nameid_at = forged.find("<saml:NameID").and_then(|n| forged[n..].find('>').map(|m| n + m + 1));
            let forged = match (nameid_at, nameid_at.and_then(|s| forged[s..].find('<').map(|e| s + e))) {
                (Some(s), Some(e)) => format!("{}attacker@example.com{}", &forged[..s], &forged[e..]),
                _ => forged,
            };
            format!("{}{forged}{}", &base[..a], &base[a..])
        }
        _ => return Err(KitError::Input("no assertion in the response".into())),
    };
    add(
        "duplicate-assertion",
        "An unsigned assertion for another user beside the signed one.",
        "assertion_count",
        Reject,
        duplicated,
    );
    add(
        "sha1",
        "Signed with RSA-SHA1 and a SHA-1 digest: refused by a policy that rejects deprecated algorithms (accepted by one that does not).",
        "algorithm",
        Reject,
        with_settings(json!({"signatureAlgorithm": "rsa-sha1", "digestAlgorithm": "sha1"}))?,
    );
    add(
        "status-responder",
        "A status other than Success, still carrying a (validly signed) assertion.",
        "status",
        Reject,
        base.replacen(
            "urn:oasis:names:tc:SAML:2.0:status:Success",
            "urn:oasis:names:tc:SAML:2.0:status:Responder",
            1,
        ),
    );
    // The comment: signed over "kit.user@example.com.evil.com"; c14n drops comments, so the
    // signature still holds. A verifier that reads the text before the comment sees another user.
    let fmt = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".to_string();
    let long = "kit.user@example.com.evil.com";
    let commented = issue
        .response(unencrypted.clone(), now, &acs, &rid, &current, Some((fmt, long.into())))?
        .replacen(&format!(">{long}<"), ">kit.user@example.com<!---->.evil.com<", 1);
    add(
        "nameid-comment",
        "A comment inside the NameID (kit.user@example.com<!---->.evil.com), signature intact: valid, and the NameID is the whole text, kit.user@example.com.evil.com.",
        "nameid_whole_text",
        Accept,
        commented,
    );

    for (name, xml, description) in wrapping(
        &base,
        &plain(json!({"signResponse": true, "encryptionCert": null, "encryptionPublicKey": null}))?,
    )? {
        add(name, description, "signature_wrapping", Reject, xml);
    }

    let b64 = base64::engine::general_purpose::STANDARD;
    let mut list = Vec::new();
    for (mut f, xml) in fixtures {
        write(out, &f.file, &xml)?;
        let form = f.file.replace(".xml", ".b64");
        let value = b64.encode(xml.as_bytes());
        // The HTTP-POST binding's form body, as the browser posts it to the ACS.
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("SAMLResponse", &value)
            .append_pair("RelayState", "kit")
            .finish();
        write(out, &f.file.replace(".xml", ".form"), &body)?;
        write(out, &form, &value)?;
        f.file = form.replace(".b64", "");
        list.push(f);
    }
    let manifest = json!({
        "kit": "saml",
        "issuer": input.sp.get("issuer").and_then(Value::as_str).map_or_else(|| format!("urn:{}", input.tenant), str::to_string),
        "audience": input.sp.get("audience"),
        "acs": input.acs,
        "request_id": issue.request_id,
        "now": input.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "seed": input.seed,
        "idp_cert_b64": keys.current.cert_b64(),
        "files": "NAME.xml (the Response), NAME.b64 (the SAMLResponse value), NAME.form (the HTTP-POST form body, RelayState kit)",
        "fixtures": list,
    });
    super::write_manifest(out, &manifest)?;
    Ok(list)
}

/// `[start, end)` of the first element `<tag ...>...</tag>` (no nesting of the same tag).
fn element(xml: &str, open: &str, close: &str) -> Option<(usize, usize)> {
    let a = xml.find(open)?;
    let b = xml[a..].find(close)? + a + close.len();
    Some((a, b))
}

/// The signed assertion made an attacker's: another ID, another NameID, no signature.
fn evil_assertion(assertion: &str) -> String {
    let forged = strip_signature(assertion).replacen(" ID=\"", " ID=\"_evil", 1);
    let start = forged.find("<saml:NameID").and_then(|n| forged[n..].find('>').map(|m| n + m + 1));
    let end = start.and_then(|s| forged[s..].find('<').map(|e| s + e));
    match (start, end) {
        (Some(s), Some(e)) => format!("{}attacker@example.com{}", &forged[..s], &forged[e..]),
        _ => forged,
    }
}

/// The XML signature-wrapping attacks XSW1-XSW8 (Somorovsky et al., "On Breaking SAML"): the
/// signature still verifies over the original element, moved where a careless SP does not look,
/// while the element the SP reads is the attacker's. XSW1-2 on a response-signed response, XSW3-8
/// on an assertion-signed one.
fn wrapping(assertion_signed: &str, response_signed: &str) -> Result<Vec<(&'static str, String, &'static str)>, KitError> {
    let missing = || KitError::Input("unexpected response shape".into());
    let sig_open = "<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\">";
    let mut out = Vec::new();
    // XSW1, XSW2: the response signed; the attacker's response around it.
    {
        let r = response_signed;
        let (ra, _) = element(r, "<samlp:Response", "</samlp:Response>").ok_or_else(missing)?;
        let (sa, sb) = element(r, sig_open, "</Signature>").ok_or_else(missing)?;
        let (aa, ab) = element(r, "<saml:Assertion ", "</saml:Assertion>").ok_or_else(missing)?;
        let original = strip_signature(&r[ra..]);
        let signature = &r[sa..sb];
        let evil = r[..sa].replacen(" ID=\"", " ID=\"_evil", 1);
        let rest = format!("{}{}{}", &r[sb..aa], evil_assertion(&r[aa..ab]), &r[ab..]);
        let inner = signature.replacen("</Signature>", &format!("{original}</Signature>"), 1);
        out.push((
            "xsw1",
            format!("{evil}{inner}{rest}"),
            "XSW1: the attacker's response carries the signature, the signed original response inside it.",
        ));
        out.push((
            "xsw2",
            format!("{evil}{original}{signature}{rest}"),
            "XSW2: the attacker's response carries the signature, the signed original response beside it (detached).",
        ));
    }
    // XSW3-XSW8: the assertion signed.
    let r = assertion_signed;
    let (aa, ab) = element(r, "<saml:Assertion ", "</saml:Assertion>").ok_or_else(missing)?;
    let original = &r[aa..ab];
    let (sa, sb) = element(original, sig_open, "</Signature>").ok_or_else(missing)?;
    let signature = &original[sa..sb];
    let unsigned_original = strip_signature(original);
    let evil = evil_assertion(original);
    let (head, tail) = (&r[..aa], &r[ab..]);
    out.push((
        "xsw3",
        format!("{head}{evil}{original}{tail}"),
        "XSW3: the attacker's assertion before the signed one.",
    ));
    out.push((
        "xsw4",
        format!(
            "{head}{}{tail}",
            evil.replacen("</saml:Assertion>", &format!("{original}</saml:Assertion>"), 1)
        ),
        "XSW4: the signed assertion inside the attacker's.",
    ));
    // The attacker's assertion carrying the original signature (after its Issuer).
    let with_sig = |inside: &str| -> Option<String> {
        let i = evil.find("</saml:Issuer>")? + "</saml:Issuer>".len();
        let sig = signature.replacen("</Signature>", &format!("{inside}</Signature>"), 1);
        Some(format!("{}{sig}{}", &evil[..i], &evil[i..]))
    };
    out.push((
        "xsw5",
        format!("{head}{}{tail}", with_sig("").ok_or_else(missing)? + &unsigned_original),
        "XSW5: the attacker's assertion carries the signature; the original assertion follows, unsigned.",
    ));
    out.push((
        "xsw6",
        format!("{head}{}{tail}", with_sig(&unsigned_original).ok_or_else(missing)?),
        "XSW6: the attacker's assertion carries the signature, the original assertion inside the signature.",
    ));
    let ext = format!("<samlp:Extensions>{original}</samlp:Extensions>");
    let status = head.find("<samlp:Status>").ok_or_else(missing)?;
    out.push((
        "xsw7",
        format!("{}{ext}{}{evil}{tail}", &head[..status], &head[status..]),
        "XSW7: the signed assertion hidden in an Extensions element, the attacker's assertion in its place.",
    ));
    out.push((
        "xsw8",
        format!(
            "{head}{}{tail}",
            with_sig(&format!("<Object>{unsigned_original}</Object>")).ok_or_else(missing)?
        ),
        "XSW8: the attacker's assertion carries the signature, the original assertion in an Object inside it.",
    ));
    Ok(out)
}
