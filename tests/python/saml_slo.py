"""Single logout across SPs, driven by python3-saml SPs against a running idpipe.

One browser logs in to two SAML SPs (sp-py, sp-two) and, for the OIDC case, to an OIDC app.
sp-py (or the OIDC app) starts the logout; idpipe must send sp-two a signed LogoutRequest
(checked with python3-saml's signature validation and fields), sp-two answers with a
LogoutResponse built by python3-saml (Success, or Responder for the partial case), and only
then does sp-py get its LogoutResponse (validated by python3-saml) with the right status.

Reads a JSON job on stdin ({"check": NAME, ...}), prints a JSON report.
"""
import base64
import json
import re
import secrets
import sys
import zlib
from html import unescape
from urllib.parse import parse_qs, urlencode, urlparse

import requests
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.logout_response import OneLogin_Saml2_Logout_Response
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

job = json.load(sys.stdin)
BASE = job["idp_base"]
SP_BASE = job["sp_base"]
NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
browser = requests.Session()


def fields(html):
    return {unescape(m.group(1)): unescape(m.group(2)) for m in re.finditer(r'name="([^"]+)" value="([^"]*)"', html)}


def action(html):
    m = re.search(r'<form[^>]*action="([^"]*)"', html)
    return unescape(m.group(1)) if m else None


def settings_for(client_id):
    idp = OneLogin_Saml2_IdPMetadataParser.parse_remote(f"{BASE}/samlp/metadata/{client_id}")
    s = OneLogin_Saml2_IdPMetadataParser.merge_settings(
        {
            "strict": True,
            "sp": {
                "entityId": SP_BASE + "/metadata",
                "assertionConsumerService": {"url": SP_BASE + "/acs", "binding": C.BINDING_HTTP_POST},
                "singleLogoutService": {"url": SP_BASE + "/sls", "binding": C.BINDING_HTTP_REDIRECT},
                "NameIDFormat": C.NAMEID_UNSPECIFIED,
            },
            "security": {"wantAssertionsSigned": True, "requestedAuthnContext": False},
        },
        idp,
    )
    return OneLogin_Saml2_Settings(s), idp["idp"]["x509cert"]


ACS = {"https": "off", "http_host": "127.0.0.1", "server_port": urlparse(SP_BASE).port, "script_name": "/acs"}


def saml_login(client_id):
    settings, _ = settings_for(client_id)
    auth = OneLogin_Saml2_Auth(dict(ACS), settings)
    r = browser.get(auth.login(return_to=client_id), allow_redirects=True)
    if "/u/login" in r.url:
        f = fields(r.text)
        r = browser.post(
            f"{BASE}/u/login",
            data={"state": f["state"], "_csrf": f["_csrf"], "username": "jane.doe@example.com", "password": "jane-demo-password"},
        )
    resp = OneLogin_Saml2_Response(settings, fields(r.text)["SAMLResponse"])
    assert resp.is_valid(dict(ACS), auth.get_last_request_id()), resp.get_error()
    return resp.get_nameid(), resp.get_session_index()


def answer_as(client_id, page, status=C.STATUS_SUCCESS):
    """sp-two receives idpipe's LogoutRequest (auto-POST) and answers with python3-saml."""
    settings, idp_cert = settings_for(client_id)
    f = fields(page.text)
    xml = base64.b64decode(f["SAMLRequest"])
    doc = etree.fromstring(xml)
    seen = {
        "action": action(page.text),
        "signature_valid": bool(OneLogin_Saml2_Utils.validate_sign(xml, idp_cert, xpath="/samlp:LogoutRequest/ds:Signature", raise_exceptions=False)),
        "name_id": doc.findtext("saml:NameID", namespaces=NS),
        "session_index": doc.findtext("samlp:SessionIndex", namespaces=NS),
        "destination": doc.get("Destination"),
        "issuer": doc.findtext("saml:Issuer", namespaces=NS),
    }
    lr = OneLogin_Saml2_Logout_Response(settings)
    lr.build(doc.get("ID"), status=status)
    params = {"SAMLResponse": lr.get_response(), "RelayState": f["RelayState"]}
    slo = settings.get_idp_data()["singleLogoutService"]["url"]
    return seen, browser.get(f"{slo}?{urlencode(params)}", allow_redirects=False)


def final_response(client_id, page, request_id):
    settings, _ = settings_for(client_id)
    f = fields(page.text)
    data = {"https": "off", "http_host": "127.0.0.1", "server_port": urlparse(SP_BASE).port, "script_name": "/sls",
            "get_data": {}, "post_data": {"SAMLResponse": f["SAMLResponse"]}}
    lr = OneLogin_Saml2_Logout_Response(settings, f["SAMLResponse"])
    doc = etree.fromstring(base64.b64decode(f["SAMLResponse"]))
    return {
        "action": action(page.text),
        "valid": bool(lr.is_valid(data, request_id, raise_exceptions=False)),
        "error": lr.get_error(),
        "codes": [c.get("Value") for c in doc.iterfind(".//samlp:StatusCode", NS)],
        "relay_state": f.get("RelayState"),
    }


def logged_in(client_id):
    settings, _ = settings_for(client_id)
    auth = OneLogin_Saml2_Auth(dict(ACS), settings)
    r = browser.get(auth.login(return_to="check"), allow_redirects=True)
    return "/u/login" not in r.url


def saml_initiated(participant_status):
    name_id, session_index = saml_login("sp-py")
    saml_login("sp-two")
    settings, _ = settings_for("sp-py")
    auth = OneLogin_Saml2_Auth(dict(ACS), settings)
    url = auth.logout(name_id=name_id, session_index=session_index, return_to="bye")
    rid = auth.get_last_request_id()
    page = browser.get(url, allow_redirects=False)
    out = {"first_step_action": action(page.text), "first_step_has_request": "SAMLRequest" in page.text}
    seen, back = answer_as("sp-two", page, participant_status)
    out["participant_saw"] = seen
    out["final"] = final_response("sp-py", back, rid)
    out["session_index"] = session_index
    out["still_logged_in"] = logged_in("sp-two")
    return out


def saml_slo_all_confirm():
    return saml_initiated(C.STATUS_SUCCESS)


def saml_slo_partial():
    return saml_initiated(C.STATUS_RESPONDER)


def saml_slo_forged_chain():
    """A LogoutResponse whose InResponseTo is not the request idpipe sent, or from another browser."""
    global browser
    name_id, session_index = saml_login("sp-py")
    saml_login("sp-two")
    settings, _ = settings_for("sp-py")
    auth = OneLogin_Saml2_Auth(dict(ACS), settings)
    page = browser.get(auth.logout(name_id=name_id, session_index=session_index), allow_redirects=False)
    f = fields(page.text)
    two, _ = settings_for("sp-two")
    slo = two.get_idp_data()["singleLogoutService"]["url"]
    wrong = OneLogin_Saml2_Logout_Response(two)
    wrong.build("_not-the-request-idpipe-sent")
    other_browser = requests.Session()
    right = OneLogin_Saml2_Logout_Response(two)
    doc = etree.fromstring(base64.b64decode(f["SAMLRequest"]))
    right.build(doc.get("ID"))
    foreign = other_browser.get(f"{slo}?{urlencode({'SAMLResponse': right.get_response(), 'RelayState': f['RelayState']})}", allow_redirects=False)
    mismatched = browser.get(f"{slo}?{urlencode({'SAMLResponse': wrong.get_response(), 'RelayState': f['RelayState']})}", allow_redirects=False)
    return {"foreign_browser": foreign.status_code, "wrong_in_response_to": mismatched.status_code}


def oidc_initiated():
    saml_login("sp-py")
    # An OIDC login in the same browser (PKCE, confidential client rp).
    verifier = secrets.token_urlsafe(48)
    import hashlib

    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {"client_id": "rp", "response_type": "code", "redirect_uri": job["redirect_uri"], "scope": "openid",
              "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"}
    r = browser.get(f"{BASE}/authorize?{urlencode(params)}", allow_redirects=False)
    code = parse_qs(urlparse(r.headers["location"]).query)["code"][0]
    tok = requests.post(f"{BASE}/oauth/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": job["redirect_uri"],
                                                    "code_verifier": verifier}, auth=("rp", job["rp_secret"])).json()
    page = browser.get(f"{BASE}/oidc/logout", params={"id_token_hint": tok["id_token"], "post_logout_redirect_uri": job["logout_uri"], "state": "z"},
                       allow_redirects=False)
    out = {"first_step_action": action(page.text)}
    seen, back = answer_as("sp-py", page)
    out["participant_saw"] = seen
    out["final"] = [back.status_code, back.headers.get("location")]
    out["still_logged_in"] = logged_in("sp-py")
    return out


print(json.dumps(globals()[job["check"]](), default=str))
