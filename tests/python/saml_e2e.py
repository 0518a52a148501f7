"""End-to-end SAML login through a running idpipe, driven by a real SP library.

python3-saml (OneLogin) configures itself from idpipe's metadata, builds the AuthnRequest
(HTTP-Redirect or HTTP-POST binding, signed or not), a `requests` session plays the browser
(login form, auto-POST form), and python3-saml validates the Response in strict mode
(signature, audience, recipient, destination, InResponseTo, conditions; decryption).

Reads a JSON job on stdin, prints a JSON verdict on stdout.
"""
import base64
import json
import re
import sys
from html import unescape
from urllib.parse import urlparse

import requests
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.logout_response import OneLogin_Saml2_Logout_Response
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

job = json.load(sys.stdin)
base = job["idp_base"]
client_id = job["client_id"]
sp_base = job.get("sp_base", "http://127.0.0.1:8091")
acs_url = sp_base + "/acs"
sls_url = sp_base + "/sls"


def fail(stage, detail):
    print(json.dumps({"ok": False, "stage": stage, "detail": detail}))
    sys.exit(0)


meta = OneLogin_Saml2_IdPMetadataParser.parse_remote(f"{base}/samlp/metadata/{client_id}")
settings = OneLogin_Saml2_IdPMetadataParser.merge_settings(
    {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": sp_base + "/metadata",
            "assertionConsumerService": {"url": acs_url, "binding": C.BINDING_HTTP_POST},
            "singleLogoutService": {"url": sls_url, "binding": C.BINDING_HTTP_REDIRECT},
            "NameIDFormat": C.NAMEID_UNSPECIFIED,
            "x509cert": job.get("sp_cert", ""),
            "privateKey": job.get("sp_key", ""),
        },
        "security": {
            "authnRequestsSigned": bool(job.get("sign")),
            "logoutRequestSigned": bool(job.get("sign")),
            "wantAssertionsSigned": True,
            "wantMessagesSigned": False,
            "wantAssertionsEncrypted": bool(job.get("encrypted")),
            "wantNameId": True,
            "requestedAuthnContext": False,
            "signatureAlgorithm": C.RSA_SHA256,
            "digestAlgorithm": C.SHA256,
        },
    },
    meta,
)
# The metadata says whether idpipe wants signed requests; the job decides what this SP does.
settings["security"]["authnRequestsSigned"] = bool(job.get("sign"))
settings["security"]["logoutRequestSigned"] = bool(job.get("sign"))
saml_settings = OneLogin_Saml2_Settings(settings)
acs = urlparse(acs_url)
acs_request = {"https": "off", "http_host": acs.hostname, "server_port": str(acs.port), "script_name": acs.path}
http = requests.Session()
relay = job.get("relay_state", "relay-123")
request_id = None
sso_url = f"{base}/samlp/{client_id}"

if job.get("tamper"):
    # A signed request whose signature no longer matches: idpipe must refuse it.
    auth = OneLogin_Saml2_Auth(acs_request, saml_settings)
    url = auth.login(return_to=relay)
    url = url.replace("RelayState=", "RelayState=x")
    r = http.get(url, allow_redirects=True)
    print(json.dumps({"ok": False, "stage": "tampered", "status": r.status_code, "body": r.text[:2000]}))
    sys.exit(0)

if job.get("idp_initiated"):
    r = http.get(sso_url, params={"RelayState": relay}, allow_redirects=True)
elif job.get("binding") == "post":
    req = OneLogin_Saml2_Authn_Request(saml_settings)
    request_id = req.get_id()
    xml = req.get_xml()
    if job.get("sign"):
        xml = OneLogin_Saml2_Utils.add_sign(
            xml, job["sp_key"], job["sp_cert"], sign_algorithm=C.RSA_SHA256, digest_algorithm=C.SHA256
        )
        xml = xml.decode() if isinstance(xml, bytes) else xml
    r = http.post(
        sso_url,
        data={"SAMLRequest": base64.b64encode(xml.encode()).decode(), "RelayState": relay},
        allow_redirects=True,
    )
else:
    auth = OneLogin_Saml2_Auth(acs_request, saml_settings)
    url = auth.login(return_to=relay)
    request_id = auth.get_last_request_id()
    r = http.get(url, allow_redirects=True)


def fields(html):
    return {unescape(m.group(1)): unescape(m.group(2)) for m in re.finditer(r'name="([^"]+)" value="([^"]*)"', html)}


def form_action(html):
    m = re.search(r'<form[^>]*action="([^"]*)"', html)
    return unescape(m.group(1)) if m else None


login_page_status = r.status_code
saw_login_page = "/u/login" in r.url
if saw_login_page:
    f = fields(r.text)
    if "state" not in f:
        fail("login_page", r.text[:1500])
    r = http.post(
        f"{base}/u/login",
        data={"state": f["state"], "_csrf": f["_csrf"], "username": job["username"], "password": job["password"]},
        allow_redirects=True,
    )
if r.status_code != 200 or "SAMLResponse" not in r.text:
    fail("after_login", {"status": r.status_code, "url": r.url, "body": r.text[:2000]})
f = fields(r.text)
action = form_action(r.text)
response_b64 = f["SAMLResponse"]
resp = OneLogin_Saml2_Response(saml_settings, response_b64)
valid = resp.is_valid(acs_request, request_id, raise_exceptions=False)
out = {
    "ok": bool(valid),
    "error": resp.get_error(),
    "saw_login_page": saw_login_page,
    "form_action": action,
    "relay_state": f.get("RelayState"),
    "status": OneLogin_Saml2_Utils.get_status(resp.document) if resp.document is not None else None,
    "encrypted": resp.encrypted,
}
if valid:
    out.update(
        nameid=resp.get_nameid(),
        attributes=resp.get_attributes(),
        session_index=resp.get_session_index(),
        in_response_to=resp.document.get("InResponseTo"),
    )

if valid and job.get("then_sso_again"):
    # A second login to the same SP: the session cookie gives SSO without the login page.
    auth = OneLogin_Saml2_Auth(acs_request, saml_settings)
    r2 = http.get(auth.login(return_to="second"), allow_redirects=True)
    out["second_login_page"] = "/u/login" in r2.url
    if "SAMLResponse" in r2.text:
        resp2 = OneLogin_Saml2_Response(saml_settings, fields(r2.text)["SAMLResponse"])
        out["second_valid"] = bool(resp2.is_valid(acs_request, auth.get_last_request_id(), raise_exceptions=False))
        out["second_error"] = resp2.get_error()

if valid and job.get("then_logout"):
    auth = OneLogin_Saml2_Auth(acs_request, saml_settings)
    url = auth.logout(name_id=resp.get_nameid(), session_index=resp.get_session_index(), return_to="bye")
    lr_id = auth.get_last_request_id()
    r3 = http.get(url, allow_redirects=True)
    lf = fields(r3.text)
    out["logout_form_action"] = form_action(r3.text)
    if "SAMLResponse" in lf:
        sls = urlparse(sls_url)
        sls_request = {
            "https": "off",
            "http_host": sls.hostname,
            "server_port": str(sls.port),
            "script_name": sls.path,
            "get_data": {},
            "post_data": {"SAMLResponse": lf["SAMLResponse"]},
        }
        lresp = OneLogin_Saml2_Logout_Response(saml_settings, lf["SAMLResponse"])
        out["logout_valid"] = bool(lresp.is_valid(sls_request, lr_id, raise_exceptions=False))
        out["logout_error"] = lresp.get_error()
        out["logout_status"] = lresp.get_status()
        out["logout_relay_state"] = lf.get("RelayState")
    # After the logout, the next login needs the password again.
    auth = OneLogin_Saml2_Auth(acs_request, saml_settings)
    r4 = http.get(auth.login(return_to="after-logout"), allow_redirects=True)
    out["login_page_after_logout"] = "/u/login" in r4.url

print(json.dumps(out))
