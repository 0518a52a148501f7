"""End-to-end OIDC authorization code flow with PKCE through a running idpipe, as an
independent client: `requests` plays the browser and the app, PyJWT verifies the tokens
against the published JWKS (discovered from /.well-known/openid-configuration).

Reads a JSON job on stdin, prints a JSON report on stdout.
"""
import base64
import hashlib
import json
import re
import secrets
import sys
from html import unescape
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
import requests
from idp_nav import location


job = json.load(sys.stdin)
base = job["idp_base"]
client_id = job.get("client_id", "spa")
client_secret = job.get("client_secret")
redirect_uri = job["redirect_uri"]
out = {}

disc = requests.get(f"{base}/.well-known/openid-configuration").json()
out["issuer"] = disc["issuer"]
jwks = jwt.PyJWKClient(disc["jwks_uri"])

verifier = base64.urlsafe_b64encode(secrets.token_bytes(48)).rstrip(b"=").decode()
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
state = secrets.token_urlsafe(16)
nonce = secrets.token_urlsafe(16)
params = {
    "client_id": client_id,
    "response_type": "code",
    "redirect_uri": redirect_uri,
    "scope": job.get("scope", "openid profile email offline_access"),
    "state": state,
    "nonce": nonce,
    "code_challenge": challenge,
    "code_challenge_method": "S256",
}
if job.get("audience"):
    params["audience"] = job["audience"]
if job.get("response_mode"):
    params["response_mode"] = job["response_mode"]

browser = requests.Session()


def fields(html):
    return {unescape(m.group(1)): unescape(m.group(2)) for m in re.finditer(r'name="([^"]+)" value="([^"]*)"', html)}


def until_app(resp):
    """Follows idpipe's redirects until the browser would leave for the app."""
    for _ in range(10):
        loc = location(resp)
        if loc:
            if loc.startswith(redirect_uri):
                return parse_qs(urlparse(loc).query)
            if loc.startswith("/"):
                loc = base + loc
            resp = browser.get(loc, allow_redirects=False)
            continue
        return resp
    raise SystemExit("too many redirects")


r = until_app(browser.get(f"{base}/authorize?{urlencode(params)}", allow_redirects=False))
if isinstance(r, requests.Response) and "/u/login" in r.url:
    f = fields(r.text)
    r = until_app(
        browser.post(
            f"{base}/u/login",
            data={"state": f["state"], "_csrf": f["_csrf"], "username": job["username"], "password": job["password"]},
            allow_redirects=False,
        )
    )
if isinstance(r, requests.Response):
    if params.get("response_mode") == "form_post" and r.status_code == 200:
        cb = fields(r.text)
        out["form_post_action"] = unescape(re.search(r'action="([^"]*)"', r.text).group(1))
        r = {k: [v] for k, v in cb.items()}
    else:
        print(json.dumps({"stage": "authorize", "status": r.status_code, "body": r.text[:1500]}))
        sys.exit(0)
callback = {k: v[0] for k, v in r.items()}
out["callback"] = {k: v for k, v in callback.items() if k != "code"}
out["state_matches"] = callback.get("state") == state
if "code" not in callback:
    print(json.dumps(out))
    sys.exit(0)
code = callback["code"]


def token(data):
    auth = (client_id, client_secret) if client_secret else None
    if not client_secret:
        data = dict(data, client_id=client_id)
    resp = requests.post(f"{base}/oauth/token", data=data, auth=auth)
    return resp.status_code, resp.json()


if job.get("wrong_verifier"):
    wrong = base64.urlsafe_b64encode(secrets.token_bytes(48)).rstrip(b"=").decode()
    out["wrong_verifier"] = token(
        {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": wrong}
    )
    print(json.dumps(out))
    sys.exit(0)

status, tokens = token({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier})
out["token_status"] = status
if status != 200:
    out["token_error"] = tokens
    print(json.dumps(out))
    sys.exit(0)
out["scope"] = tokens.get("scope")
key = jwks.get_signing_key_from_jwt(tokens["id_token"]).key
claims = jwt.decode(tokens["id_token"], key, algorithms=["RS256"], audience=client_id, issuer=disc["issuer"])
out["id_token"] = claims
out["nonce_matches"] = claims.get("nonce") == nonce
access_aud = job.get("audience") or f"{base}/userinfo"
access = jwt.decode(tokens["access_token"], key, algorithms=["RS256"], audience=access_aud, issuer=disc["issuer"])
out["access_token"] = access
ui = requests.get(disc["userinfo_endpoint"], headers={"Authorization": "Bearer " + tokens["access_token"]})
out["userinfo"] = {"status": ui.status_code, "body": ui.json()}

# The code is single use; replaying it fails and revokes what it granted.
out["code_reuse"] = token({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier})

rt1 = tokens.get("refresh_token")
out["has_refresh_token"] = rt1 is not None
if rt1 and job.get("refresh"):
    # The code replay above revoked its family: start a new login (SSO, no password) for a fresh grant.
    state2 = secrets.token_urlsafe(16)
    verifier2 = base64.urlsafe_b64encode(secrets.token_bytes(48)).rstrip(b"=").decode()
    ch2 = base64.urlsafe_b64encode(hashlib.sha256(verifier2.encode()).digest()).rstrip(b"=").decode()
    p2 = dict(params, state=state2, code_challenge=ch2)
    cb2 = until_app(browser.get(f"{base}/authorize?{urlencode(p2)}", allow_redirects=False))
    out["sso_without_password"] = not isinstance(cb2, requests.Response)
    code2 = cb2["code"][0]
    s2, t2 = token({"grant_type": "authorization_code", "code": code2, "redirect_uri": redirect_uri, "code_verifier": verifier2})
    out["revoked_by_code_reuse"] = token({"grant_type": "refresh_token", "refresh_token": rt1})
    rt_a = t2["refresh_token"]
    s3, t3 = token({"grant_type": "refresh_token", "refresh_token": rt_a})
    out["refresh"] = {"status": s3, "rotated": t3.get("refresh_token") not in (None, rt_a)}
    if s3 == 200:
        c3 = jwt.decode(t3["id_token"], key, algorithms=["RS256"], audience=client_id, issuer=disc["issuer"])
        out["refresh"]["sub"] = c3["sub"]
        out["refresh"]["roles"] = c3.get("https://my-app.example.com/roles")
        rt_b = t3["refresh_token"]
        # Reusing the rotated-out token revokes the family: the newer token dies too.
        out["reuse"] = token({"grant_type": "refresh_token", "refresh_token": rt_a})
        out["after_reuse"] = token({"grant_type": "refresh_token", "refresh_token": rt_b})

if job.get("logout"):
    lo = browser.get(f"{base}/v2/logout", params={"client_id": client_id, "returnTo": job["logout"]}, allow_redirects=False)
    out["logout"] = {"status": lo.status_code, "location": lo.headers.get("location")}
    again = browser.get(f"{base}/authorize?{urlencode(dict(params, prompt='none', response_mode='query'))}", allow_redirects=False)
    out["prompt_none_after_logout"] = parse_qs(urlparse(again.headers.get("location", "")).query)

print(json.dumps(out))
