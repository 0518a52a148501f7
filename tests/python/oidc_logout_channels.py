"""OpenID Connect Back-Channel and Front-Channel Logout against a running idpipe: this script
is the application. It receives the back-channel POST on its own HTTP server (a real listener),
validates the logout token with PyJWT against the discovered JWKS (Back-Channel Logout 1.0,
2.6: signature, iss, aud, iat, typ, events, sid, no nonce), and reads the front-channel iframes
of the logout page.

Reads a JSON job on stdin, prints a JSON report.
"""
import base64
import hashlib
import json
import re
import secrets
import sys
import threading
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
import requests
from idp_nav import location


job = json.load(sys.stdin)
BASE = job["idp_base"]
received = []
got = threading.Event()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
        received.append({"path": self.path, "content_type": self.headers.get("content-type"), "form": parse_qs(body)})
        self.send_response(200)
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        got.set()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", job["listen_port"]), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()

disc = requests.get(f"{BASE}/.well-known/openid-configuration").json()
browser = requests.Session()
verifier = secrets.token_urlsafe(48)
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
params = {"client_id": "bc", "response_type": "code", "redirect_uri": job["redirect_uri"], "scope": "openid", "state": "s",
          "nonce": "n1", "code_challenge": challenge, "code_challenge_method": "S256"}
r = browser.get(f"{BASE}/authorize?{urlencode(params)}", allow_redirects=True)
f = {unescape(m.group(1)): unescape(m.group(2)) for m in re.finditer(r'name="([^"]+)" value="([^"]*)"', r.text)}
r = browser.post(f"{BASE}/u/login", data={"state": f["state"], "_csrf": f["_csrf"], "username": "jane.doe@example.com",
                                          "password": "jane-demo-password"}, allow_redirects=False)
code = parse_qs(urlparse(location(r)).query)["code"][0]
tok = requests.post(disc["token_endpoint"], data={"grant_type": "authorization_code", "code": code, "redirect_uri": job["redirect_uri"],
                                                  "code_verifier": verifier}, auth=("bc", job["secret"])).json()
jwks = jwt.PyJWKClient(disc["jwks_uri"])
key = jwks.get_signing_key_from_jwt(tok["id_token"]).key
id_claims = jwt.decode(tok["id_token"], key, algorithms=["RS256"], audience="bc", issuer=disc["issuer"])

page = browser.get(disc["end_session_endpoint"], params={"id_token_hint": tok["id_token"], "post_logout_redirect_uri": job["logout_uri"],
                                                        "state": "fc"}, allow_redirects=False)
frames = [unescape(u) for u in re.findall(r'<iframe src="([^"]*)"', page.text)]
nxt = re.search(r'id="next" href="([^"]*)"', page.text)
out = {
    "discovery": {k: disc.get(k) for k in ["backchannel_logout_supported", "backchannel_logout_session_supported",
                                            "frontchannel_logout_supported", "frontchannel_logout_session_supported"]},
    "page_status": page.status_code,
    "frames": [{"path": urlparse(u).path, "query": parse_qs(urlparse(u).query)} for u in frames],
    "csp": page.headers.get("content-security-policy"),
    "sid": id_claims["sid"],
}
if nxt:
    final = browser.get(BASE + unescape(nxt.group(1)), allow_redirects=False)
    out["final"] = [final.status_code, final.headers.get("location")]
got.wait(10)
out["backchannel_count"] = len(received)
if received:
    rec = received[0]
    token = rec["form"]["logout_token"][0]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, key, algorithms=["RS256"], audience="bc", issuer=disc["issuer"], options={"require": ["iat", "jti", "events"]})
    out["backchannel"] = {"path": rec["path"], "content_type": rec["content_type"], "typ": header.get("typ"), "claims": claims}
# A second logout: nothing left to tell.
again = browser.get(disc["end_session_endpoint"], params={"id_token_hint": tok["id_token"]}, allow_redirects=False)
out["second_logout_status"] = again.status_code
server.shutdown()
print(json.dumps(out))
