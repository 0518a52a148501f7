"""Verifies every fixture of an `idpipe kit saml` folder with python3-saml as a careful SP:
strict mode, a signature required (on the response or the assertion), deprecated algorithms
refused, the request ID the SP sent. Prints, per fixture, the verdict and the check that
refused it (from python3-saml's own error), or for an accepted one what it read.

Job (stdin): {"dir": KIT_FOLDER, "sp_cert": PEM, "sp_key": PEM}. Only the manifest's inputs are
read (audience, acs, issuer, request_id, idp cert), never its verdicts.
"""
import json
import os
import sys
from urllib.parse import urlparse

from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings

job = json.load(sys.stdin)
folder = job["dir"]
manifest = json.load(open(os.path.join(folder, "manifest.json")))
acs = urlparse(manifest["acs"])
settings = OneLogin_Saml2_Settings({
    "strict": True,
    "debug": False,
    "sp": {
        "entityId": manifest["audience"],
        "assertionConsumerService": {"url": manifest["acs"], "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"},
        "x509cert": job["sp_cert"],
        "privateKey": job["sp_key"],
    },
    "idp": {
        "entityId": manifest["issuer"],
        "singleSignOnService": {"url": "https://idp.example.com/sso", "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"},
        "x509cert": manifest["idp_cert_b64"],
    },
    "security": {"wantNameId": True, "rejectDeprecatedAlgorithm": True},
}, sp_validation_only=True)
request_data = {"https": "on" if acs.scheme == "https" else "off", "http_host": acs.hostname,
                "server_port": str(acs.port or (443 if acs.scheme == "https" else 80)), "script_name": acs.path}

CHECKS = [
    ("expired", "time"), ("not yet valid", "time"), ("timestamp", "time"),
    ("audience", "audience"),
    ("was received at", "destination"), ("destination", "destination"),
    ("InResponseTo", "in_response_to"),
    ("issuer", "issuer"),
    ("must contain 1 assertion", "assertion_count"),
    ("Deprecated", "algorithm"),
    ("status code", "status"), ("status", "status"),
    ("Signature", "signature"), ("signature", "signature"),
]


def check_of(error):
    for needle, check in CHECKS:
        if needle in (error or ""):
            return check
    return "other: " + str(error)


out = {}
for f in manifest["fixtures"]:
    b64 = open(os.path.join(folder, f["file"] + ".b64")).read().strip()
    try:
        resp = OneLogin_Saml2_Response(settings, b64)
        valid = resp.is_valid(request_data, manifest["request_id"], raise_exceptions=False)
        error = resp.get_error()
    except Exception as e:  # a malformed document is a refusal too
        valid, error = False, str(e)
    if not valid:
        check = check_of(error)
        # A wrapped document is refused by a signature or structure check (the signature does not
        # cover what would be read); a document that does not parse is refused for nothing.
        wrapped = check in ("signature", "assertion_count") or "unexpected" in (error or "") or "Duplicated" in (error or "")
        if f["file"].startswith("xsw") and wrapped:
            check = "signature_wrapping"
        out[f["file"]] = {"verdict": "reject", "check": check, "error": error}
        continue
    nameid = resp.get_nameid()
    check = "none"
    if f["check"] == "nameid_whole_text":
        check = "nameid_whole_text" if nameid == "kit.user@example.com.evil.com" else "nameid_truncated: " + str(nameid)
    out[f["file"]] = {"verdict": "accept", "check": check, "nameid": nameid, "attributes": resp.get_attributes()}
print(json.dumps(out))
