"""An independent OpenID relying party for the conformance checks: Authlib's OAuth2Session plays
the app (authorization URL, PKCE, token exchange, revocation, introspection), Authlib's JOSE
validates ID tokens (CodeIDToken: iss, aud, exp, iat, nonce, at_hash) against the discovered
JWKS, and `requests` plays the browser (the session cookie, the login form).

Reads a JSON job on stdin ({"check": NAME, "idp_base": ..., ...}) and prints a JSON report.
Each check returns the facts the Rust test asserts.
"""
import json
import re
import secrets
import sys
from html import unescape
from urllib.parse import parse_qs, urlencode, urlparse

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.oidc.core import CodeIDToken
from idp_nav import location


job = json.load(sys.stdin)
BASE = job["idp_base"]
REDIRECT = job["redirect_uri"]
CLIENT = job.get("client_id", "rp")
SECRET = job.get("client_secret")
USER = job.get("username", "john.smith@example.com")
PASSWORD = job.get("password", "john-demo-password")
DISC = requests.get(f"{BASE}/.well-known/openid-configuration").json()
JWKS = JsonWebKey.import_key_set(requests.get(DISC["jwks_uri"]).json())
RS256 = JsonWebToken(["RS256"])


def form_fields(html):
    return {unescape(m.group(1)): unescape(m.group(2)) for m in re.finditer(r'name="([^"]+)" value="([^"]*)"', html)}


class Rp:
    """One app with one browser."""

    def __init__(self, client_id=CLIENT, secret=SECRET, auth_method="client_secret_basic", scope="openid profile email"):
        self.client_id = client_id
        self.browser = requests.Session()
        self.app = OAuth2Session(
            client_id,
            secret,
            scope=scope,
            redirect_uri=REDIRECT,
            code_challenge_method="S256",
            token_endpoint_auth_method=auth_method if secret else "none",
        )
        self.login_page = None

    def authorize(self, method="GET", password=True, **params):
        """Runs /authorize in the browser (logging in when the login page shows) and returns
        (callback parameters or None, last response, nonce, verifier)."""
        nonce = params.pop("nonce", secrets.token_urlsafe(12))
        verifier = secrets.token_urlsafe(48)
        url, state = self.app.create_authorization_url(
            DISC["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **params
        )
        if nonce is None:
            url = url.replace("&nonce=None", "")
        if method == "POST":
            u = urlparse(url)
            resp = self.browser.post(f"{BASE}{u.path}", data=parse_qs(u.query), allow_redirects=False)
        else:
            resp = self.browser.get(url, allow_redirects=False)
        for _ in range(10):
            loc = location(resp)
            if loc:
                if loc.startswith(REDIRECT):
                    return {k: v[0] for k, v in parse_qs(urlparse(loc).query).items()}, resp, nonce, verifier, state
                resp = self.browser.get(loc if loc.startswith("http") else BASE + loc, allow_redirects=False)
                continue
            if resp.status_code == 200 and 'action="/u/login"' in resp.text:
                self.login_page = resp.text
                if not password:
                    return None, resp, nonce, verifier, state
                f = form_fields(resp.text)
                resp = self.browser.post(
                    f"{BASE}/u/login",
                    data={"state": f["state"], "_csrf": f["_csrf"], "username": USER, "password": PASSWORD},
                    allow_redirects=False,
                )
                continue
            if resp.status_code == 200 and "<form" in resp.text and REDIRECT in resp.text:
                # response_mode=form_post: what the browser would POST to the app.
                return form_fields(resp.text), resp, nonce, verifier, state
            return None, resp, nonce, verifier, state
        raise SystemExit("too many redirects")

    def tokens(self, cb, verifier):
        return self.app.fetch_token(DISC["token_endpoint"], code=cb["code"], code_verifier=verifier)

    def id_token(self, token, nonce):
        claims = RS256.decode(
            token["id_token"],
            JWKS,
            claims_cls=CodeIDToken,
            claims_options={"iss": {"essential": True, "values": [DISC["issuer"]]}},
            claims_params={"nonce": nonce, "client_id": self.client_id, "access_token": token["access_token"]},
        )
        claims.validate(leeway=5)
        return dict(claims)

    def login(self, **params):
        cb, _, nonce, verifier, state = self.authorize(**params)
        token = self.tokens(cb, verifier)
        return cb, token, self.id_token(token, nonce), state


def header(jwt_text):
    import base64

    h = jwt_text.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))


def code_flow_signed_id_token_kid_in_jwks():
    rp = Rp()
    cb, token, claims, state = rp.login()
    kid = header(token["id_token"])["kid"]
    return {
        "state_ok": cb.get("state") == state,
        "iss_param": cb.get("iss"),
        "issuer": DISC["issuer"],
        "kid_in_jwks": any(k["kid"] == kid for k in requests.get(DISC["jwks_uri"]).json()["keys"]),
        "alg": header(token["id_token"])["alg"],
        "sub": claims["sub"],
    }


def userinfo_three_ways():
    rp = Rp()
    _, token, claims, _ = rp.login()
    at = token["access_token"]
    ep = DISC["userinfo_endpoint"]
    get = requests.get(ep, headers={"Authorization": f"Bearer {at}"})
    post_header = requests.post(ep, headers={"Authorization": f"Bearer {at}"})
    post_body = requests.post(ep, data={"access_token": at})
    none = requests.get(ep)
    id_as_at = requests.get(ep, headers={"Authorization": f"Bearer {token['id_token']}"})
    return {
        "get": [get.status_code, get.json()],
        "post_header": [post_header.status_code, post_header.json()],
        "post_body": [post_body.status_code, post_body.json()],
        "no_token": [none.status_code, none.headers.get("www-authenticate")],
        "id_token_as_access_token": id_as_at.status_code,
        "sub": claims["sub"],
    }


def nonce_not_required():
    rp = Rp()
    cb, _, _, verifier, _ = rp.authorize(nonce=None)
    token = rp.tokens(cb, verifier)
    claims = RS256.decode(token["id_token"], JWKS)
    return {"has_code": "code" in cb, "nonce_in_id_token": "nonce" in claims}


def scopes_profile_email_address_phone():
    rp = Rp(scope="openid profile email address phone")
    _, token, claims, _ = rp.login()
    ui = requests.get(DISC["userinfo_endpoint"], headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    only_openid = Rp(scope="openid")
    only_openid.browser = rp.browser
    _, t2, c2, _ = only_openid.login()
    ui2 = requests.get(DISC["userinfo_endpoint"], headers={"Authorization": f"Bearer {t2['access_token']}"}).json()
    return {"id_token": claims, "userinfo": ui, "openid_only_userinfo": ui2, "openid_only_id_token": c2}


def display_values():
    out = {}
    for d in ["page", "popup", "touch", "wap"]:
        cb, *_ = Rp().authorize(display=d)
        out[d] = "code" in (cb or {})
    cb, *_ = Rp().authorize(display="hologram")
    out["hologram_error"] = (cb or {}).get("error")
    return out


def prompts_and_max_age():
    rp = Rp()
    _, _, first, _ = rp.login()
    out = {"first_auth_time": first["auth_time"]}
    cb, resp, *_ = rp.authorize(prompt="none")
    out["prompt_none_logged_in"] = "code" in (cb or {})
    cb, resp, *_ = rp.authorize(prompt="login", password=False)
    out["prompt_login_shows_login_page"] = rp.login_page is not None and resp.status_code == 200
    import time

    time.sleep(2.1)
    rp.login_page = None
    cb, resp, *_ = rp.authorize(max_age="1", password=False)
    out["max_age_1_shows_login_page"] = cb is None and rp.login_page is not None
    rp.login_page = None
    cb, _, nonce, verifier, _ = rp.authorize(max_age="1")
    claims = rp.id_token(rp.tokens(cb, verifier), nonce)
    out["max_age_auth_time_newer"] = claims["auth_time"] > first["auth_time"]
    out["max_age_auth_time_present"] = "auth_time" in claims
    fresh = Rp()
    cb, *_ = fresh.authorize(prompt="none")
    out["prompt_none_logged_out"] = cb
    return out


def code_reuse_rejected_tokens_revoked():
    rp = Rp(scope="openid offline_access")
    cb, _, nonce, verifier, _ = rp.authorize()
    token = rp.tokens(cb, verifier)
    second = requests.post(
        DISC["token_endpoint"],
        data={"grant_type": "authorization_code", "code": cb["code"], "redirect_uri": REDIRECT, "code_verifier": verifier},
        auth=(CLIENT, SECRET),
    )
    refresh = requests.post(
        DISC["token_endpoint"], data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}, auth=(CLIENT, SECRET)
    )
    return {"second": [second.status_code, second.json()], "refresh_after_reuse": [refresh.status_code, refresh.json()]}


def unregistered_redirect_uri_no_redirect():
    r = requests.get(
        DISC["authorization_endpoint"],
        params={"client_id": CLIENT, "response_type": "code", "scope": "openid", "redirect_uri": "https://evil.example.com/cb"},
        allow_redirects=False,
    )
    return {"status": r.status_code, "location": r.headers.get("location"), "body_mentions": "not an allowed" in r.text}


def client_secret_post():
    rp = Rp(auth_method="client_secret_post")
    _, token, claims, _ = rp.login()
    basic_wrong = requests.post(
        DISC["token_endpoint"], data={"grant_type": "authorization_code", "code": "x", "client_id": CLIENT, "client_secret": "wrong"}
    )
    return {"sub": claims["sub"], "wrong_secret": [basic_wrong.status_code, basic_wrong.json().get("error")]}


def claims_essential():
    rp = Rp(scope="openid")
    req = json.dumps({"userinfo": {"name": {"essential": True}, "email": None}, "id_token": {"email": {"essential": True}, "acr": None}})
    _, token, claims, _ = rp.login(claims=req)
    ui = requests.get(DISC["userinfo_endpoint"], headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    cb, *_ = Rp(scope="openid").authorize(claims="not json")
    return {"id_token": claims, "userinfo": ui, "bad_claims": cb}


def refresh_and_pkce():
    rp = Rp(scope="openid offline_access")
    cb, _, nonce, verifier, _ = rp.authorize()
    wrong = requests.post(
        DISC["token_endpoint"],
        data={"grant_type": "authorization_code", "code": cb["code"], "redirect_uri": REDIRECT, "code_verifier": secrets.token_urlsafe(48)},
        auth=(CLIENT, SECRET),
    )
    cb, _, nonce, verifier, _ = rp.authorize()
    token = rp.tokens(cb, verifier)
    new = rp.app.refresh_token(DISC["token_endpoint"], refresh_token=token["refresh_token"])
    claims = RS256.decode(new["id_token"], JWKS)
    claims.validate(leeway=5)
    return {
        "wrong_verifier": [wrong.status_code, wrong.json().get("error")],
        "rotated": new["refresh_token"] != token["refresh_token"],
        "refreshed_sub": claims["sub"],
    }


def discovery_fields():
    return DISC


def form_post_basic():
    rp = Rp()
    cb, resp, nonce, verifier, state = rp.authorize(response_mode="form_post")
    action = unescape(re.search(r'action="([^"]*)"', resp.text).group(1))
    token = rp.tokens(cb, verifier)
    claims = rp.id_token(token, nonce)
    err, *_ = Rp().authorize(response_mode="form_post", prompt="none")
    return {"action": action, "state_ok": cb.get("state") == state, "iss": cb.get("iss"), "sub": claims["sub"], "prompt_none_error": err}


def access_token_rfc9068():
    import jwt as pyjwt

    rp = Rp()
    cb, token, _, _ = rp.login()
    at = token["access_token"]
    h = header(at)
    key = pyjwt.PyJWKClient(DISC["jwks_uri"]).get_signing_key_from_jwt(at).key
    c = pyjwt.decode(at, key, algorithms=["RS256"], audience=f"{BASE}/userinfo", issuer=DISC["issuer"])
    _, t2, _, _ = rp.login()
    c2 = pyjwt.decode(t2["access_token"], key, algorithms=["RS256"], audience=f"{BASE}/userinfo", issuer=DISC["issuer"])
    return {"typ": h.get("typ"), "claims": c, "jti_unique": c["jti"] != c2["jti"], "iss_param": cb.get("iss")}


def revocation_and_introspection():
    rp = Rp(scope="openid offline_access")
    _, token, _, _ = rp.login()
    at, rt = token["access_token"], token["refresh_token"]
    intro_at = rp.app.introspect_token(DISC["introspection_endpoint"], token=at).json()
    intro_rt = rp.app.introspect_token(DISC["introspection_endpoint"], token=rt, token_type_hint="refresh_token").json()
    intro_junk = rp.app.introspect_token(DISC["introspection_endpoint"], token="junk").json()
    other = OAuth2Session("web", job["web_secret"])
    intro_other = other.introspect_token(DISC["introspection_endpoint"], token=rt).json()
    revoke_other = other.revoke_token(DISC["revocation_endpoint"], token=rt)
    still = rp.app.introspect_token(DISC["introspection_endpoint"], token=rt).json()
    revoke_at = rp.app.revoke_token(DISC["revocation_endpoint"], token=at)
    revoke = rp.app.revoke_token(DISC["revocation_endpoint"], token=rt, token_type_hint="refresh_token")
    after = rp.app.introspect_token(DISC["introspection_endpoint"], token=rt).json()
    refresh = requests.post(DISC["token_endpoint"], data={"grant_type": "refresh_token", "refresh_token": rt}, auth=(CLIENT, SECRET))
    public = requests.post(DISC["introspection_endpoint"], data={"token": at, "client_id": "spa"})
    return {
        "access": intro_at,
        "refresh": intro_rt,
        "junk": intro_junk,
        "other_client_sees": intro_other,
        "other_client_revoke_status": revoke_other.status_code,
        "still_active": still.get("active"),
        "revoke_access_token": [revoke_at.status_code, revoke_at.json()],
        "revoke_status": revoke.status_code,
        "after_revoke": after,
        "refresh_after_revoke": [refresh.status_code, refresh.json().get("error")],
        "public_client_introspection": public.status_code,
    }


def request_objects_refused():
    out = {}
    for p in ["request", "request_uri"]:
        cb, *_ = Rp().authorize(**{p: "eyJhbGciOiJub25lIn0.e30." if p == "request" else "https://rp.example.com/req.jwt"})
        out[p] = cb
    return out


def post_authorize_login_hint_acr():
    rp = Rp()
    cb, resp, *_ = rp.authorize(method="POST", password=False, login_hint="john.smith@example.com", ui_locales="fr-CA en")
    hinted = 'value="john.smith@example.com"' in (rp.login_page or "")
    rp.login_page = None
    cb, _, nonce, verifier, _ = rp.authorize(method="POST", acr_values="urn:mace:incommon:iap:silver", unknown_param="ignored")
    claims = rp.id_token(rp.tokens(cb, verifier), nonce)
    return {"login_hint_prefilled": hinted, "acr": claims.get("acr"), "code_by_post": "code" in (cb or {})}


def alg_none_never_accepted():
    import base64

    rp = Rp()
    _, token, claims, _ = rp.login()
    b64 = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    payload = token["access_token"].split(".")[1]
    none_at = f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{payload}."
    ui = requests.get(DISC["userinfo_endpoint"], headers={"Authorization": f"Bearer {none_at}"})
    id_payload = token["id_token"].split(".")[1]
    none_hint = f"{b64({'alg': 'none'})}.{id_payload}."
    lo = rp.browser.get(DISC["end_session_endpoint"], params={"id_token_hint": none_hint}, allow_redirects=False)
    hs = f"{b64({'alg': 'HS256', 'typ': 'at+jwt'})}.{payload}.c2ln"
    ui_hs = requests.get(DISC["userinfo_endpoint"], headers={"Authorization": f"Bearer {hs}"})
    return {"userinfo_none": ui.status_code, "logout_none_hint": lo.status_code, "userinfo_hs256": ui_hs.status_code}


def rp_logout():
    """RP-Initiated Logout 1.0: the four behaviours of the certification plan."""
    out = {}
    rp = Rp()
    _, token, _, _ = rp.login()
    hint = token["id_token"]
    target = job["logout_uri"]
    # Unregistered URI: no redirect, still logged in.
    r = rp.browser.get(DISC["end_session_endpoint"], params={"id_token_hint": hint, "post_logout_redirect_uri": "https://evil.example.com/"}, allow_redirects=False)
    out["unregistered"] = [r.status_code, r.headers.get("location")]
    # A modified hint: refused, still logged in.
    parts = hint.split(".")
    tampered = ".".join([parts[0], parts[1][:-2] + ("A" if parts[1][-2] != "A" else "B") + parts[1][-1], parts[2]])
    r = rp.browser.get(DISC["end_session_endpoint"], params={"id_token_hint": tampered, "post_logout_redirect_uri": target, "state": "s1"}, allow_redirects=False)
    out["modified_hint"] = [r.status_code, r.headers.get("location")]
    cb, *_ = rp.authorize(prompt="none")
    out["still_logged_in"] = "code" in (cb or {})
    # No parameters / only state: a confirmation page, no redirect; confirming logs out.
    r = rp.browser.get(DISC["end_session_endpoint"], allow_redirects=False)
    out["no_params"] = [r.status_code, r.headers.get("location"), "Log out?" in r.text]
    r = rp.browser.get(DISC["end_session_endpoint"], params={"state": "only"}, allow_redirects=False)
    out["only_state"] = [r.status_code, r.headers.get("location"), "Log out?" in r.text]
    cb, *_ = rp.authorize(prompt="none")
    out["still_logged_in_after_pages"] = "code" in (cb or {})
    # The hint, a registered URI (with its own query) and state: back with the same state.
    r = rp.browser.get(DISC["end_session_endpoint"], params={"id_token_hint": hint, "post_logout_redirect_uri": target, "state": "xyz"}, allow_redirects=False)
    out["valid"] = [r.status_code, r.headers.get("location")]
    cb, *_ = rp.authorize(prompt="none")
    out["after_logout"] = cb
    # Confirmation form: posted back with its CSRF token, it logs out.
    rp2 = Rp()
    rp2.login()
    page = rp2.browser.get(DISC["end_session_endpoint"], params={"client_id": CLIENT, "post_logout_redirect_uri": target, "state": "c"})
    f = form_fields(page.text)
    forged = rp2.browser.post(DISC["end_session_endpoint"], data=dict(f, _csrf="0" * 64), allow_redirects=False)
    out["forged_confirmation"] = [forged.status_code, forged.headers.get("location")]
    confirmed = rp2.browser.post(DISC["end_session_endpoint"], data=f, allow_redirects=False)
    out["confirmed"] = [confirmed.status_code, location(confirmed)]
    cb, *_ = rp2.authorize(prompt="none")
    out["after_confirmation"] = cb
    return out


print(json.dumps(globals()[job["check"]](), default=str))
