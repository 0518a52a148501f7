"""SAML IdP features checked by independent SP tooling against a running idpipe: python3-saml
(OneLogin) validates every Response in strict mode (and both signatures when asked), lxml
reads statuses and conditions, xmlsec1 verifies the signed metadata.

AuthnRequests are written here (so that NameIDPolicy, AllowCreate, RequestedAuthnContext and
AssertionConsumerServiceIndex take any value) and sent with the HTTP-POST binding; `requests`
plays the browser. Reads a JSON job on stdin ({"check": NAME, ...}), prints a JSON report.
"""
import base64
import datetime
import json
import re
import secrets
import subprocess
import sys
import tempfile
from html import unescape
from urllib.parse import urlparse

import requests
from lxml import etree
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

job = json.load(sys.stdin)
BASE = job["idp_base"]
SP_BASE = job.get("sp_base", "http://127.0.0.1:8091")
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
FORMAT = {
    "email": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "persistent": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "transient": "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
    "unspecified": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    "x509": "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName",
}
PPT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
MFA = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"


def fields(html):
    return {unescape(m.group(1)): unescape(m.group(2)) for m in re.finditer(r'name="([^"]+)" value="([^"]*)"', html)}


def authn_request(client_id, acs=None, policy=None, allow_create=None, contexts=None, comparison=None, acs_index=None):
    rid = "_" + secrets.token_hex(16)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    attrs = f'ID="{rid}" Version="2.0" IssueInstant="{now}" Destination="{BASE}/samlp/{client_id}"'
    if acs:
        attrs += f' AssertionConsumerServiceURL="{acs}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"'
    if acs_index is not None:
        attrs += f' AssertionConsumerServiceIndex="{acs_index}"'
    body = f"<saml:Issuer>{SP_BASE}/metadata</saml:Issuer>"
    if policy:
        ac = "" if allow_create is None else f' AllowCreate="{str(allow_create).lower()}"'
        body += f'<samlp:NameIDPolicy Format="{FORMAT[policy]}"{ac}/>'
    if contexts:
        cmp = f' Comparison="{comparison}"' if comparison else ""
        refs = "".join(f"<saml:AuthnContextClassRef>{c}</saml:AuthnContextClassRef>" for c in contexts)
        body += f"<samlp:RequestedAuthnContext{cmp}>{refs}</samlp:RequestedAuthnContext>"
    xml = (
        f'<samlp:AuthnRequest xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}" {attrs}>{body}</samlp:AuthnRequest>'
    )
    return rid, xml


class Sp:
    """One SP (python3-saml settings from idpipe's metadata) and one browser."""

    def __init__(self, client_id, browser=None, want_messages_signed=False, acs=None, sp_key=None):
        self.client_id = client_id
        self.browser = browser or requests.Session()
        self.acs = acs or SP_BASE + "/acs"
        idp = OneLogin_Saml2_IdPMetadataParser.parse_remote(f"{BASE}/samlp/metadata/{client_id}")
        settings = OneLogin_Saml2_IdPMetadataParser.merge_settings(
            {
                "strict": True,
                "sp": {
                    "entityId": SP_BASE + "/metadata",
                    "assertionConsumerService": {"url": self.acs, "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"},
                    "privateKey": sp_key or "",
                },
                "security": {"wantAssertionsSigned": True, "wantMessagesSigned": want_messages_signed, "rejectDeprecatedAlgorithm": True},
            },
            idp,
        )
        self.settings = OneLogin_Saml2_Settings(settings, sp_validation_only=True)
        self.idp_cert = idp["idp"]["x509cert"]

    def login(self, user="jane.doe@example.com", password="jane-demo-password", **request):
        rid, xml = authn_request(self.client_id, **request)
        r = self.browser.post(
            f"{BASE}/samlp/{self.client_id}",
            data={"SAMLRequest": base64.b64encode(xml.encode()).decode(), "RelayState": "rs"},
        )
        if "/u/login" in r.url:
            f = fields(r.text)
            r = self.browser.post(f"{BASE}/u/login", data={"state": f["state"], "_csrf": f["_csrf"], "username": user, "password": password})
        f = fields(r.text)
        if "SAMLResponse" not in f:
            return {"stage": "no_response", "status": r.status_code, "body": r.text[:800]}
        action = unescape(re.search(r'<form[^>]*action="([^"]*)"', r.text).group(1))
        xml_text = base64.b64decode(f["SAMLResponse"])
        doc = etree.fromstring(xml_text)
        codes = [c.get("Value") for c in doc.iterfind(".//samlp:StatusCode", NS)]
        out = {"codes": codes, "action": action, "xml": xml_text.decode()}
        out["response_signature_valid"] = bool(OneLogin_Saml2_Utils.validate_sign(xml_text, self.idp_cert, raise_exceptions=False))
        if codes and codes[0].endswith(":Success"):
            acs = urlparse(action)
            req = {"https": "off", "http_host": acs.hostname, "server_port": str(acs.port), "script_name": acs.path}
            resp = OneLogin_Saml2_Response(self.settings, f["SAMLResponse"])
            out["valid"] = bool(resp.is_valid(req, rid, raise_exceptions=False))
            out["encrypted"] = bool(resp.encrypted)
            out["error"] = resp.get_error()
            if out["valid"]:
                out["nameid"] = resp.get_nameid()
                out["nameid_format"] = resp.get_nameid_format()
                out["attributes"] = resp.get_attributes()
                out["authn_context"] = resp.get_authn_contexts()
            a = doc.find(".//saml:Assertion", NS)
            out["assertion_signed"] = a is not None and a.find("ds:Signature", NS) is not None
            out["response_signed"] = doc.find("ds:Signature", NS) is not None
            out["issue_instant"] = a.get("IssueInstant") if a is not None else None
            cond = doc.find(".//saml:Conditions", NS)
            out["not_before"] = cond.get("NotBefore") if cond is not None else None
        else:
            msg = doc.find(".//samlp:StatusMessage", NS)
            out["message"] = msg.text if msg is not None else None
        del out["xml"]
        return out


def seconds(t):
    return datetime.datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp()


def name_id_policy():
    out = {}
    sp = Sp("sp-py")
    out["email"] = sp.login(policy="email")
    out["persistent_1"] = sp.login(policy="persistent")
    out["persistent_2"] = sp.login(policy="persistent", allow_create=False)
    out["transient_1"] = sp.login(policy="transient")
    out["transient_2"] = sp.login(policy="transient")
    out["unspecified"] = sp.login(policy="unspecified")
    out["unsupported"] = sp.login(policy="x509")
    other = Sp("sp-two", browser=sp.browser)
    out["persistent_other_sp"] = other.login(policy="persistent")
    # A new session: a new transient identifier; a user never seen at this SP with AllowCreate=false.
    fresh = Sp("sp-py")
    out["transient_new_session"] = fresh.login(policy="transient")
    john = Sp("sp-two")
    out["no_create"] = john.login(user="john.smith@example.com", password="john-demo-password", policy="persistent", allow_create=False)
    out["settings_fixed"] = Sp("sp-fixed").login(policy="email")
    return out


def sign_both():
    both = Sp("sp-both", want_messages_signed=True).login()
    plain_wanting_both = Sp("sp-py", want_messages_signed=True).login()
    return {"both": both, "assertion_only_sp_wanting_both": plain_wanting_both}


def requested_authn_context():
    sp = Sp("sp-py")
    return {
        "ppt_exact": sp.login(contexts=[PPT]),
        "password_exact": sp.login(contexts=[PASSWORD], comparison="exact"),
        "mfa_exact": sp.login(contexts=[MFA], comparison="exact"),
        "password_minimum": sp.login(contexts=[PASSWORD], comparison="minimum"),
        "ppt_better": sp.login(contexts=[PPT], comparison="better"),
        "none": sp.login(),
    }


def not_before_skew():
    return Sp("sp-py").login()


def metadata():
    r = requests.get(f"{BASE}/samlp/metadata/sp-py")
    doc = etree.fromstring(r.content)
    with tempfile.TemporaryDirectory() as d:
        path = f"{d}/md.xml"
        open(path, "wb").write(r.content)
        ok = subprocess.run(
            ["xmlsec1", "--verify", "--pubkey-cert-pem", job["idp_cert_path"], "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor", path],
            capture_output=True,
            text=True,
        )
        tampered = r.content.replace(b"/samlp/sp-py/logout", b"/samlp/sp-py/evil", 1)
        open(path, "wb").write(tampered)
        bad = subprocess.run(
            ["xmlsec1", "--verify", "--pubkey-cert-pem", job["idp_cert_path"], "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor", path],
            capture_output=True,
            text=True,
        )
    parsed = OneLogin_Saml2_IdPMetadataParser.parse(r.content)
    first_child = doc[0]
    return {
        "content_type": r.headers.get("content-type"),
        "xmlsec1_ok": ok.returncode == 0,
        "xmlsec1_out": ok.stderr[-400:],
        "tampered_rejected": bad.returncode != 0,
        "signature_first_child": first_child.tag == "{http://www.w3.org/2000/09/xmldsig#}Signature",
        "valid_until": doc.get("validUntil"),
        "cache_duration": doc.get("cacheDuration"),
        "python3_saml_sso_url": parsed["idp"]["singleSignOnService"]["url"],
    }


def acs_index():
    key = open(job["sp_key_path"]).read()
    sp = Sp("imported", acs=job["acs_2"], sp_key=key)
    by_index = sp.login(acs_index=2)
    unknown = Sp("imported", sp_key=key).login(acs_index=7)
    return {"by_index": by_index, "unknown_index": unknown}


print(json.dumps(globals()[job["check"]](), default=str))
