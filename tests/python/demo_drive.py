"""Plays the browser through the demo apps (fixtures/tenant/demo_apps.py) and idpipe: an OIDC
login and a SAML login, each ending on the demo app's page of validated claims.

Reads a JSON job on stdin, prints a JSON report.
"""
import json
import re
import sys
from html import unescape

import requests

job = json.load(sys.stdin)
app, idp = job["app_base"], job["idp_base"]
b = requests.Session()


def fields(html):
    return {unescape(m.group(1)): unescape(m.group(2)) for m in re.finditer(r'name="([^"]+)" value="([^"]*)"', html)}


def text(html, id_):
    m = re.search(rf'id="{id_}">([^<]*)<', html)
    return unescape(m.group(1)) if m else None


out = {}
r = b.get(app + "/login")
f = fields(r.text)
r = b.post(f"{idp}/u/login", data={"state": f["state"], "_csrf": f["_csrf"], "username": "jane.doe@example.com",
                                    "password": "jane-demo-password"})
# The "Continuing" page navigates to the app by script, as a browser would.
nxt = re.search(r'<a id="next" href="([^"]*)"', r.text)
if nxt:
    r = b.get(unescape(nxt.group(1)))
out["oidc"] = {"status": r.status_code, "url": r.url, "validated": text(r.text, "validated"), "sub": text(r.text, "sub"),
               "actions_section": "added by the tenant&#x27;s actions" in r.text or "added by the tenant's actions" in r.text,
               "roles_shown": "https://my-app.example.com/roles" in r.text}
r = b.get(app + "/saml/login")
# SSO: the session from the OIDC login; the auto-POST form goes to the demo SP.
f = fields(r.text)
action = unescape(re.search(r'<form[^>]*action="([^"]*)"', r.text).group(1))
r = b.post(action, data={"SAMLResponse": f["SAMLResponse"], "RelayState": f.get("RelayState", "")})
out["saml"] = {"status": r.status_code, "validated": text(r.text, "validated"), "nameid": text(r.text, "nameid"),
               "email_attribute": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress" in r.text}
# A replayed response is refused by the demo SP (python3-saml: InResponseTo already used).
again = b.post(action, data={"SAMLResponse": f["SAMLResponse"]})
out["saml_replay_status"] = again.status_code
print(json.dumps(out))
