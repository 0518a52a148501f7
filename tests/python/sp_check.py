"""A real SP (python3-saml, OneLogin) validating an idpipe SAML Response.

Reads a JSON job on stdin, prints a JSON verdict. Strict settings: signature, audience,
recipient, destination, InResponseTo and time conditions are all checked by python3-saml.
"""
import json
import sys
from urllib.parse import urlparse

from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings

job = json.load(sys.stdin)
acs = urlparse(job["acs_url"])
settings = {
    "strict": True,
    "debug": False,
    "sp": {
        "entityId": job["sp_entity_id"],
        "assertionConsumerService": {"url": job["acs_url"], "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"},
        "x509cert": job.get("sp_cert", ""),
        "privateKey": job.get("sp_key", ""),
    },
    "idp": {
        "entityId": job["idp_entity_id"],
        "singleSignOnService": {"url": "http://127.0.0.1:3000/samlp/sp", "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"},
        "x509cert": job["idp_cert"],
    },
    "security": {
        "wantAssertionsSigned": job.get("want_assertions_signed", False),
        "wantMessagesSigned": job.get("want_messages_signed", False),
        "wantAssertionsEncrypted": job.get("want_assertions_encrypted", False),
        "wantNameId": True,
        "rejectDeprecatedAlgorithm": False,
    },
}
s = OneLogin_Saml2_Settings(settings, sp_validation_only=True)
resp = OneLogin_Saml2_Response(s, job["response_b64"])
request_data = {
    "https": "on" if acs.scheme == "https" else "off",
    "http_host": acs.hostname,
    "server_port": str(acs.port or (443 if acs.scheme == "https" else 80)),
    "script_name": acs.path,
}
valid = resp.is_valid(request_data, job.get("request_id"), raise_exceptions=False)
out = {"valid": bool(valid), "error": resp.get_error()}
if valid:
    out.update(
        nameid=resp.get_nameid(),
        nameid_format=resp.get_nameid_format(),
        attributes=resp.get_attributes(),
        session_index=resp.get_session_index(),
        audiences=resp.get_audiences(),
    )
    statements = resp._query_assertion("/saml:AuthnStatement")
    out["authn_instant"] = statements[0].get("AuthnInstant") if statements else None
    out["issue_instant"] = resp.document.get("IssueInstant")
print(json.dumps(out))
