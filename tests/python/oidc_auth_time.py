"""auth_time and max_age through a running idpipe, checked by an independent client (requests as
the browser and the app, PyJWT verifying every ID token against the discovered JWKS):
a login, a refresh two seconds later (auth_time must stay the original authentication time,
OIDC Core 12.2), then /authorize with max_age shorter and longer than the session's age
(OIDC Core 3.1.2.1: a new login, or SSO with auth_time in the ID token).

Reads a JSON job on stdin, prints a JSON report on stdout.
"""
import base64
import hashlib
import json
import re
import secrets
import sys
import time
from html import unescape
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
import requests
from idp_nav import location


job = json.load(sys.stdin)
base = job["idp_base"]
redirect_uri = job["redirect_uri"]
client_id = "spa"
disc = requests.get(f"{base}/.well-known/openid-configuration").json()
jwks = jwt.PyJWKClient(disc["jwks_uri"])
browser = requests.Session()
out = {}


def verify(id_token, nonce):
    key = jwks.get_signing_key_from_jwt(id_token).key
    claims = jwt.decode(id_token, key, algorithms=["RS256"], audience=client_id, issuer=disc["issuer"])
    assert claims.get("nonce") == nonce or nonce is None, claims
    return claims


def authorize(extra):
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(48)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    nonce = secrets.token_urlsafe(8)
    params = dict(
        client_id=client_id, response_type="code", redirect_uri=redirect_uri, scope="openid offline_access",
        nonce=nonce, code_challenge=challenge, code_challenge_method="S256", **extra,
    )
    r = browser.get(f"{base}/authorize?{urlencode(params)}", allow_redirects=False)
    loc = r.headers.get("location", "")
    return loc, verifier, nonce


def login_page(loc):
    r = browser.get(base + loc, allow_redirects=False)
    return {unescape(m.group(1)): unescape(m.group(2)) for m in re.finditer(r'name="([^"]+)" value="([^"]*)"', r.text)}


def redeem(loc, verifier, nonce):
    code = parse_qs(urlparse(loc).query)["code"][0]
    t = requests.post(f"{base}/oauth/token", data={
        "grant_type": "authorization_code", "client_id": client_id, "code": code,
        "redirect_uri": redirect_uri, "code_verifier": verifier,
    }).json()
    return t, verify(t["id_token"], nonce)


loc, verifier, nonce = authorize({})
f = login_page(loc)
r = browser.post(f"{base}/u/login", data={"state": f["state"], "_csrf": f["_csrf"], "username": job["username"],
                                          "password": job["password"]}, allow_redirects=False)
tokens, first = redeem(location(r), verifier, nonce)
out["first"] = {"auth_time": first["auth_time"], "iat": first["iat"]}
time.sleep(2.2)
refreshed = requests.post(f"{base}/oauth/token", data={
    "grant_type": "refresh_token", "client_id": client_id, "refresh_token": tokens["refresh_token"],
}).json()
second = verify(refreshed["id_token"], None)
out["refreshed"] = {"auth_time": second["auth_time"], "iat": second["iat"]}
# The session authenticated over 2 s ago: max_age=1 needs a new login, max_age=3600 does not.
loc, _, _ = authorize({"max_age": "1"})
out["max_age_1"] = loc
loc, _, _ = authorize({"max_age": "1", "prompt": "none"})
out["max_age_1_prompt_none"] = parse_qs(urlparse(loc).query).get("error", [None])[0]
loc, verifier, nonce = authorize({"max_age": "3600"})
sso_tokens, sso = redeem(loc, verifier, nonce)
out["max_age_3600"] = {"auth_time": sso.get("auth_time"), "iat": sso["iat"]}
# That refresh token was minted over 2 s after the authentication: its ID tokens still carry it.
again = requests.post(f"{base}/oauth/token", data={
    "grant_type": "refresh_token", "client_id": client_id, "refresh_token": sso_tokens["refresh_token"],
}).json()
out["refreshed_from_sso"] = {"auth_time": verify(again["id_token"], None)["auth_time"]}
loc, _, _ = authorize({"max_age": "soon"})
out["max_age_invalid"] = parse_qs(urlparse(loc).query).get("error", [None])[0]
print(json.dumps(out))
