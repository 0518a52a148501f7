"""MFA through a running idpipe, as a user would do it: `requests` plays the browser, pyotp is
the authenticator app (it computes TOTP codes independently of idpipe), aiosmtpd is a real SMTP
server that receives the email codes, PyJWT checks the ID token the login ends with.

Reads a JSON job on stdin ({"check": NAME, ...}), prints a JSON report.
"""
import base64
import email
import hashlib
import json
import re
import secrets
import sqlite3
import sys
import time
from html import unescape
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
import pyotp
import requests
from aiosmtpd.controller import Controller
from idp_nav import location


job = json.load(sys.stdin)
BASE = job["idp_base"]
REDIRECT = job["redirect_uri"]
USER = job.get("username", "jane.doe@example.com")
PASSWORD = job.get("password", "jane-demo-password")
mails = []


class Sink:
    async def handle_DATA(self, server, session, envelope):
        mails.append({"to": envelope.rcpt_tos, "data": envelope.content.decode("utf-8", "replace")})
        return "250 OK"


smtp = Controller(Sink(), hostname="127.0.0.1", port=job["smtp_port"])
smtp.start()
texts = []
if job.get("phone_port"):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Sms(BaseHTTPRequestHandler):
        """The tenant's SMS/voice bridge: receives idpipe's webhook POSTs."""

        def do_POST(self):
            texts.append({"path": self.path, "type": self.headers.get("content-type"),
                          "body": json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    sms = ThreadingHTTPServer(("127.0.0.1", job["phone_port"]), Sms)
    threading.Thread(target=sms.serve_forever, daemon=True).start()


def fields(html):
    return {unescape(m.group(1)): unescape(m.group(2)) for m in re.finditer(r'name="([^"]+)" value="([^"]*)"', html)}


def text(html, id_):
    m = re.search(rf'id="{id_}"[^>]*>([^<]*)<', html)
    return unescape(m.group(1)) if m else None


class Login:
    def __init__(self, browser=None, base=None):
        self.b = browser or requests.Session()
        # The node the next request goes to (several nodes share one database).
        self.base = base or BASE
        self.verifier = secrets.token_urlsafe(48)

    def start(self, mfa, **extra):
        ch = base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest()).rstrip(b"=").decode()
        p = {"client_id": "spa", "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid", "state": "st", "nonce": "nn",
             "code_challenge": ch, "code_challenge_method": "S256", "mfa": mfa}
        p.update(extra)
        r = self.b.get(f"{self.base}/authorize?{urlencode(p)}", allow_redirects=False)
        return self.follow(r)

    def follow(self, r):
        for _ in range(10):
            loc = location(r)
            if loc:
                if loc.startswith(REDIRECT):
                    return {k: v[0] for k, v in parse_qs(urlparse(loc).query).items()}
                r = self.b.get(loc if loc.startswith("http") else self.base + loc, allow_redirects=False)
                continue
            if r.status_code == 200 and 'action="/u/login"' in r.text:
                f = fields(r.text)
                r = self.b.post(f"{self.base}/u/login", data={"state": f["state"], "_csrf": f["_csrf"], "username": USER, "password": PASSWORD},
                                allow_redirects=False)
                continue
            return r
        raise SystemExit("too many redirects")

    def post(self, page, **data):
        f = fields(page.text)
        body = {"state": f["state"], "_csrf": f["_csrf"]}
        body.update(data)
        return self.b.post(f"{self.base}/u/mfa", data=body, allow_redirects=False)

    def tokens(self, cb):
        r = requests.post(f"{self.base}/oauth/token", data={"grant_type": "authorization_code", "code": cb["code"], "redirect_uri": REDIRECT,
                                                        "client_id": "spa", "code_verifier": self.verifier})
        t = r.json()
        disc = requests.get(f"{self.base}/.well-known/openid-configuration").json()
        key = jwt.PyJWKClient(disc["jwks_uri"]).get_signing_key_from_jwt(t["id_token"]).key
        return jwt.decode(t["id_token"], key, algorithms=["RS256"], audience="spa", issuer=disc["issuer"])


def page_kind(r):
    if not hasattr(r, "text"):
        return "callback"
    for k in ["picker", "recovery-code", "qr", "verify"]:
        if f'id="{k}"' in r.text:
            return k
    return f"other:{r.status_code}"


def email_code():
    for _ in range(50):
        if mails:
            m = re.search(r"verification code for .* is (\d{6})", mails[-1]["data"])
            if m:
                return m.group(1), mails[-1]["to"]
        time.sleep(0.1)
    return None, None


def enroll_and_challenge_otp():
    out = {}
    a = Login()
    page = a.start("otp")
    out["enroll_page"] = page_kind(page)
    secret = text(page.text, "secret")
    out["otpauth"] = unescape(re.search(r'id="otpauth" href="([^"]*)"', page.text).group(1))
    out["qr_is_svg"] = "<svg" in page.text
    parsed = pyotp.parse_uri(out["otpauth"])
    out["otpauth_parsed"] = {"issuer": parsed.issuer, "name": parsed.name, "same_secret": parsed.secret == secret,
                             "digits": parsed.digits, "interval": parsed.interval}
    totp = pyotp.TOTP(secret)
    wrong = a.post(page, action="verify", code="000000" if totp.now() != "000000" else "111111")
    out["wrong_status"] = wrong.status_code
    r = a.post(wrong, action="verify", code=totp.now())
    out["after_enroll"] = page_kind(r)
    out["recovery_code"] = text(r.text, "recovery-code")
    cb = a.follow(a.post(r, action="continue"))
    claims = a.tokens(cb)
    out["amr"] = claims.get("amr")
    out["methods_seen"] = claims.get("https://idpipe.dev/methods")
    out["acr"] = claims.get("acr")
    # A second login (another browser): the challenge, answered with the app's next code (one
    # step of drift is allowed; the current one was used by the enrolment)...
    b = Login()
    page = b.start("otp")
    out["challenge_page"] = page_kind(page)
    code = totp.at(time.time() + 30)
    cb = b.follow(b.post(page, action="verify", code=code))
    out["challenge_ok"] = "code" in cb
    # ...which cannot be used twice.
    c = Login()
    page = c.start("otp")
    again = c.post(page, action="verify", code=code)
    out["replayed_code_status"] = again.status_code
    # The recovery code: accepted once, and a new one is shown.
    d = Login()
    page = d.start("recovery")
    r = d.post(page, action="verify", code=out["recovery_code"])
    out["recovery_used"] = page_kind(r)
    out["new_recovery_code"] = text(r.text, "recovery-code")
    cb = d.follow(d.post(r, action="continue"))
    out["recovery_login_ok"] = "code" in cb
    e = Login()
    page = e.start("recovery")
    out["old_recovery_code_again"] = e.post(page, action="verify", code=out["recovery_code"]).status_code
    return out


def email_challenge():
    a = Login()
    page = a.start("email")
    out = {"page": page_kind(page), "hint": text(page.text, "hint")}
    code, to = email_code()
    out["to"] = to
    wrong = a.post(page, action="verify", code="%06d" % ((int(code) + 1) % 1000000))
    out["wrong_status"] = wrong.status_code
    cb = a.follow(a.post(wrong, action="verify", code=code))
    out["ok"] = "code" in cb
    claims = a.tokens(cb)
    out["methods_seen"] = claims.get("https://idpipe.dev/methods")
    out["amr"] = claims.get("amr")
    return out


def enroll_otp():
    """Enrols the authenticator app (pyotp) for the user; returns the TOTP."""
    e = Login()
    page = e.start("otp")
    totp = pyotp.TOTP(text(page.text, "secret"))
    r = e.post(page, action="verify", code=totp.now())
    e.follow(e.post(r, action="continue"))
    return totp


def enrol_only():
    enroll_otp()
    return {"done": True}


def otp_page():
    return {"page": page_kind(Login().start("otp"))}


def picker_and_alternatives():
    out = {}
    a = Login()
    page = a.start("any")
    out["one_usable_skips_picker"] = page_kind(page)
    mails.clear()
    enroll_otp()
    a = Login()
    page = a.start("any")
    out["any_page"] = page_kind(page)
    out["choices"] = re.findall(r'name="factor" value="([^"]*)"', page.text)
    r = a.follow(a.post(page, action="choose", factor="email"))
    out["chosen_page"] = page_kind(r)
    code, _ = email_code()
    cb = a.follow(a.post(r, action="verify", code=code))
    out["ok"] = "code" in cb
    b = Login()
    page = b.start("otp-or-email")
    out["default_then_others"] = [page_kind(page), re.findall(r'name="factor" value="([^"]*)"', page.text)]
    out["not_offered"] = b.post(page, action="choose", factor="phone").status_code
    return out


def recovery_code_as_another_method():
    out = {}
    # Before any enrolment: no recovery code, so none offered.
    a = Login()
    page = a.start("email")
    out["before"] = re.findall(r'name="factor" value="([^"]*)"', page.text)
    a.follow(a.post(page, action="verify", code=email_code()[0]))
    # Enrolment (shows the first recovery code), then a challenge with otp alone.
    e = Login()
    page = e.start("otp")
    totp = pyotp.TOTP(text(page.text, "secret"))
    r = e.post(page, action="verify", code=totp.now())
    recovery = text(r.text, "recovery-code")
    e.follow(e.post(r, action="continue"))
    b = Login()
    page = b.start("otp")
    out["offered"] = re.findall(r'name="factor" value="([^"]*)"', page.text)
    r = b.follow(b.post(page, action="choose", factor="recovery-code"))
    out["chosen_page"] = page_kind(r)
    r = b.post(r, action="verify", code=recovery)
    out["after_use"] = page_kind(r)
    out["new_code_differs"] = text(r.text, "recovery-code") not in (None, recovery)
    cb = b.follow(b.post(r, action="continue"))
    claims = b.tokens(cb)
    out["methods_seen"] = claims.get("https://idpipe.dev/methods")
    # challengeWithAny with one usable factor: still no picker, the recovery code is "another method".
    c = Login()
    page = c.start("otp-only-any")
    out["any_single"] = [page_kind(page), re.findall(r'name="factor" value="([^"]*)"', page.text)]
    return out


def enrolment_rules():
    out = {}
    # enrollWithAny: a picker of the enabled, not yet enrolled factors.
    a = Login()
    page = a.start("enrol-any")
    out["any_page"] = page_kind(page)
    out["choices"] = re.findall(r'name="factor" value="([^"]*)"', page.text)
    r = a.follow(a.post(page, action="choose", factor="recovery-code"))
    out["recovery_enrol_page"] = page_kind(r)
    rc = text(r.text, "recovery-code")
    cb = a.follow(a.post(r, action="continue"))
    out["methods_seen"] = a.tokens(cb).get("https://idpipe.dev/methods")
    # The enrolled recovery code works in a challenge.
    b = Login()
    page = b.start("recovery")
    cb = b.post(page, action="verify", code=rc)
    out["recovery_works"] = page_kind(cb)
    # Now only otp is left: no picker, its enrolment at once.
    c = Login()
    page = c.start("enrol-any")
    out["one_left"] = page_kind(page)
    totp = pyotp.TOTP(text(page.text, "secret"))
    r = c.post(page, action="verify", code=totp.now())
    out["no_second_recovery_code"] = page_kind(c.follow(r))
    # Everything enrolled: enrollWith(otp) is ignored, none usable: mfar.
    out["already_enrolled"] = Login().start("enrol-otp")
    return out


def satisfied_once_and_redirect_with_mfa():
    out = {}
    a = Login()
    page = a.start("email-twice")
    code, _ = email_code()
    n = len(mails)
    cb = a.follow(a.post(page, action="verify", code=code))
    out["one_challenge"] = isinstance(cb, dict) and "code" in cb
    out["emails"] = n
    if out["one_challenge"]:
        out["methods_seen"] = a.tokens(cb).get("https://idpipe.dev/methods")
    out["redirect_and_mfa"] = Login().start("redirect-and-mfa")
    return out


def too_many_wrong_codes():
    a = Login()
    page = a.start("email")
    statuses = []
    r = page
    for _ in range(5):
        r = a.post(page, action="verify", code="999999")
        statuses.append(r.status_code)
    cb = a.follow(r)
    return {"statuses": statuses, "callback": cb if isinstance(cb, dict) else page_kind(cb)}


def mfar_and_warning():
    cb = Login().start("phone")
    cb2 = Login().start("some-unusable")
    return {"phone": cb, "some_unusable_page": page_kind(cb2)}


def multifactor_enable():
    out = {}
    a = Login()
    page = a.start("enable")
    out["page"] = page_kind(page)
    out["choices"] = re.findall(r'name="factor" value="([^"]*)"', page.text)
    code, _ = email_code()
    out["email_sent_without_choice"] = code is not None
    # "both": challengeWith already met; multifactor.enable asks for nothing more.
    b = Login()
    page = b.start("both")
    out["both_page"] = page_kind(page)
    c, _ = email_code()
    mails.clear()
    cb = b.follow(b.post(page, action="verify", code=c))
    out["both_ok_without_second_challenge"] = isinstance(cb, dict) and "code" in cb
    return out


def remember_browser():
    global USER, PASSWORD
    out = {}
    a = Login()
    page = a.start("remember")
    code, _ = email_code()
    mails.clear()
    cb = a.follow(a.post(page, action="verify", code=code))
    out["first"] = isinstance(cb, dict) and "code" in cb
    out["cookie"] = a.b.cookies.get("idpipe_mfa_rb") is not None
    # The same browser, a new authentication: no second factor asked.
    cb = Login(a.b).start("remember", prompt="login")
    out["remembered"] = isinstance(cb, dict) and "code" in cb
    # Without allowRememberBrowser, the remembered browser is still asked.
    out["enable_without_option"] = page_kind(Login(a.b).start("enable", prompt="login"))
    # Another browser is asked, also with a forged, a truncated or a copied-and-extended cookie.
    out["other_browser"] = page_kind(Login().start("remember"))
    real = a.b.cookies.get("idpipe_mfa_rb")
    forged = []
    for value in ["9999999999." + "0" * 64, real.split(".")[0], str(int(real.split(".")[0]) + 86400) + "." + real.split(".")[1], "x" * 300]:
        f = Login()
        f.b.cookies.set("idpipe_mfa_rb", value, domain="127.0.0.1", path="/")
        forged.append(page_kind(f.start("remember")))
    out["forged_cookies"] = forged
    # Control: the cookie set this way is sent (the real value is honoured in a new session).
    g = Login()
    g.b.cookies.set("idpipe_mfa_rb", real, domain="127.0.0.1", path="/")
    out["control_real_cookie"] = page_kind(g.start("remember"))
    # Another user in the remembered browser is asked (the token names jane).
    USER, PASSWORD = "john.smith@example.com", "john-demo-password"
    out["other_user"] = page_kind(Login(a.b).start("remember", prompt="login"))
    return out


def phone_enrolment_and_challenge():
    out = {}
    a = Login()
    page = a.start("phone-enrol")
    out["page"] = "phone" if 'id="phone"' in page.text else page_kind(page)
    bad = a.post(page, action="phone_number", number="12345", method="sms")
    out["bad_number"] = bad.status_code
    r = a.follow(a.post(page, action="phone_number", number="+1 415 555 0123", method="voice"))
    out["code_page"] = page_kind(r)
    out["hint"] = text(r.text, "hint")
    out["webhook"] = texts[-1] if texts else None
    code = texts[-1]["body"]["code"] if texts else "000000"
    r = a.post(r, action="verify", code=code)
    out["after"] = page_kind(r)
    cb = a.follow(a.post(r, action="continue"))
    out["enrolled"] = isinstance(cb, dict) and "code" in cb
    b = Login()
    page = b.start("phone-enrol")
    out["challenge_page"] = page_kind(page)
    out["challenge_webhook"] = texts[-1] if texts else None
    cb = b.follow(b.post(page, action="verify", code=texts[-1]["body"]["code"]))
    out["challenge_ok"] = isinstance(cb, dict) and "code" in cb
    c = Login()
    cb = c.start("phone-options")
    out["options"] = c.tokens(cb).get("https://idpipe.dev/phone_options")
    return out


def phone_delivery_fails():
    a = Login()
    page = a.start("phone-enrol")
    r = a.follow(a.post(page, action="phone_number", number="+15550000000", method="sms"))
    return {"status": r.status_code, "says": "could not be sent" in r.text, "sent": len(texts)}


def profile_prompt():
    out = {}
    a = Login()
    page = a.start("profile")
    out["page"] = "prompt" if 'id="prompt"' in page.text else page_kind(page)
    out["title"] = re.search(r"<h1>([^<]*)</h1>", page.text).group(1)
    out["city_default"] = fields(page.text).get("city")
    out["hidden_not_shown"] = 'name="source"' not in page.text
    # Another browser, and a form without its CSRF token.
    out["foreign_get"] = requests.get(f"{BASE}/u/prompt", params={"state": fields(page.text)["state"]}).status_code
    out["no_csrf"] = a.b.post(f"{BASE}/u/prompt", data={"state": fields(page.text)["state"], "favorite_color": "red"},
                              allow_redirects=False).status_code
    bad = a.b.post(f"{BASE}/u/prompt", data={"state": fields(page.text)["state"], "_csrf": fields(page.text)["_csrf"],
                                            "favorite_color": "purple", "age": "abc", "city": "123"}, allow_redirects=False)
    out["invalid_status"] = bad.status_code
    out["invalid_fields"] = sorted(re.findall(r'id="f-([a-z_]+)-error"', bad.text))
    out["kept_input"] = fields(bad.text).get("city")
    good = {"state": fields(bad.text)["state"], "_csrf": fields(bad.text)["_csrf"], "favorite_color": "blue", "age": "42",
            "city": "Lyon", "terms": "on", "source": "forged"}
    cb = a.follow(a.b.post(f"{BASE}/u/prompt", data=good, allow_redirects=False))
    out["completed"] = isinstance(cb, dict) and "code" in cb
    if out["completed"]:
        out["prompt_claim"] = a.tokens(cb).get("https://idpipe.dev/prompt")
    again = a.b.post(f"{BASE}/u/prompt", data=good, allow_redirects=False)
    out["replayed_status"] = again.status_code
    # The metadata the continue handler set is kept: the next login asks nothing.
    cb = Login().start("profile")
    out["second_login"] = "callback" if isinstance(cb, dict) and "code" in cb else page_kind(cb)
    out["undefined"] = Login().start("undefined-prompt")
    out["with_redirect"] = Login().start("prompt-and-redirect")
    return out


def reset_request(client, identifier=None, session=None):
    """Asks for a reset link from `client`'s page; returns (session, answer)."""
    s = session or requests.Session()
    page = s.get(f"{BASE}/u/reset-password", params={"client_id": client})
    r = s.post(f"{BASE}/u/reset-password", data={"identifier": identifier or USER, "client_id": client,
                                                  "_csrf": fields(page.text)["_csrf"]}, allow_redirects=False)
    return s, r


def reset_link(before):
    """The link of the newest reset email after `before` messages."""
    for _ in range(50):
        for m in mails[before:]:
            body = email.message_from_string(m["data"]).get_payload(decode=True).decode()
            found = re.search(r"(http://\S+/u/reset-password/confirm\?ticket=[0-9a-f]{64})", body)
            if found:
                return found.group(1), m["to"]
        time.sleep(0.1)
    return None, None


LAST_CONFIRM_CSRF = [None]


def reset_open(client, session=None):
    """Requests a link, reads it from the SMTP sink, opens it and continues; returns the session
    and the first page after the link (redirects on this server followed)."""
    before = len(mails)
    s, _ = reset_request(client, session=session)
    link, _ = reset_link(before)
    page = s.get(link)
    LAST_CONFIRM_CSRF[0] = fields(page.text)["_csrf"]
    r = s.post(f"{BASE}/u/reset-password/confirm", data={"ticket": fields(page.text)["ticket"], "_csrf": fields(page.text)["_csrf"]},
               allow_redirects=False)
    return s, link, follow_here(s, r)


def follow_here(s, r):
    for _ in range(10):
        loc = location(r)
        if not loc or not (loc.startswith("/") or loc.startswith(BASE)):
            return r
        r = s.get(loc if loc.startswith("http") else BASE + loc, allow_redirects=False)
    return r


def kind(r):
    for k in ["new-password", "prompt", "verify", "changed", "error", "sent", "reset-confirm"]:
        if f'id="{k}"' in r.text:
            return k
    return f"other:{r.status_code}"


def set_password(s, page, password, confirm=None):
    f = fields(page.text)
    return s.post(f"{BASE}/u/reset-password/new", data={"state": f["state"], "_csrf": f["_csrf"], "password": password,
                                                          "confirm": confirm if confirm is not None else password},
                  allow_redirects=False)


STRONG = "correct-horse-battery-staple-42"


def password_reset():
    global PASSWORD
    out = {}
    # A session and a refresh-capable login before the reset.
    old = Login()
    cb = old.start("")
    out["logged_in_before"] = isinstance(cb, dict) and "code" in cb
    # The account locked by wrong passwords (the reset clears the lockout).
    PASSWORD = "wrong-password"
    for _ in range(3):
        Login().start("")
    PASSWORD = "jane-demo-password"
    out["locked_before"] = page_kind(Login().start(""))
    # Enumeration: the same answer for a known and an unknown account; a mail only for the known.
    before = len(mails)
    _, known = reset_request("spa")
    _, unknown = reset_request("spa", identifier="nobody@example.com")
    time.sleep(1.0)
    out["same_answer"] = [known.status_code == unknown.status_code, known.text == unknown.text, kind(known)]
    out["mails_sent"] = len(mails) - before
    # Superseded: the link of the first request stops working once a second one is sent.
    first, to = reset_link(before)
    out["mail_to"] = to
    s, link, page = reset_open("spa")
    out["superseded"] = requests.get(first).status_code
    out["new_password_page"] = kind(page)
    out["foreign_new_page"] = requests.get(f"{BASE}/u/reset-password/new", params={"state": fields(page.text)["state"]}).status_code
    # Policy: weak, mismatch, personal, then strong.
    refusals = []
    for pw, confirm in [("password1", None), (STRONG, STRONG + "x"), ("jane.doe-Winter-Garden-2031", None), ("short", None)]:
        r = set_password(s, page, pw, confirm)
        refusals.append([r.status_code, text(r.text, "error")])
    out["refusals"] = refusals
    r = set_password(s, page, STRONG)
    out["changed"] = kind(r)
    out["back_link"] = re.search(r'id="back" href="([^"]*)"', r.text).group(1) if 'id="back"' in r.text else None
    out["reused_link"] = requests.get(link).status_code
    reused = s.post(f"{BASE}/u/reset-password/confirm", data={"ticket": link.split("ticket=")[1], "_csrf": LAST_CONFIRM_CSRF[0]})
    out["reused_link_post"] = reused.status_code
    # The old session ended; the old password fails, the new one works.
    out["old_session_after"] = old.start("", prompt="none")
    PASSWORD = "jane-demo-password"
    out["old_password"] = page_kind(Login().start(""))
    PASSWORD = STRONG
    cb = Login().start("")
    out["new_password_login"] = isinstance(cb, dict) and "code" in cb
    # Expired: the link's record is aged in the database.
    before = len(mails)
    reset_request("spa")
    link, _ = reset_link(before)
    con = sqlite3.connect(job["db"])
    con.execute("UPDATE password_resets SET expires_at = 0")
    con.commit()
    con.close()
    out["expired"] = requests.get(link).status_code
    # deny: the user sees the reason.
    _, _, page = reset_open("web-deny")
    out["deny"] = [page.status_code, "Password resets are disabled for this application." in page.text]
    # setResultUrl: allowed (the app's redirect URI, with the query), and not allowed.
    s, _, page = reset_open("web")
    r = set_password(s, page, STRONG + "-2")
    out["result_url"] = location(r) or (re.search(r'id="next" href="([^"]*)"', r.text) or [None, None])[1]
    s, _, page = reset_open("rp")
    r = set_password(s, page, STRONG + "-3")
    out["result_url_refused"] = kind(r)
    # The post-challenge name runs too.
    s, _, page = reset_open("sp-both")
    r = set_password(s, page, STRONG + "-4")
    out["post_challenge_name"] = location(r) or (re.search(r'id="next" href="([^"]*)"', r.text) or [None, None])[1]
    # MFA during the reset: the email challenge, then the second action saw it.
    mails_before = len(mails)
    s, _, page = reset_open("sp-py")
    out["mfa_page"] = kind(page)
    code = None
    for _ in range(50):
        for m in mails[mails_before:]:
            found = re.search(r"verification code for .* is (\d{6})", m["data"])
            if found:
                code = found.group(1)
        if code:
            break
        time.sleep(0.1)
    f = fields(page.text)
    r = follow_here(s, s.post(f"{BASE}/u/mfa", data={"state": f["state"], "_csrf": f["_csrf"], "action": "verify", "code": code},
                              allow_redirects=False))
    out["after_mfa"] = kind(r)
    # A redirect and /continue during the reset.
    s, _, page = reset_open("sp-two")
    loc = location(page)
    out["redirected_to"] = loc.split("?")[0] if loc else kind(page)
    state = parse_qs(urlparse(loc).query)["state"][0] if loc else ""
    r = follow_here(s, s.get(f"{BASE}/continue", params={"state": state}, allow_redirects=False))
    out["after_continue"] = kind(r)
    # A prompt during the reset.
    s, _, page = reset_open("sp-kiosk")
    out["prompt_page"] = kind(page)
    out["prompt_title"] = re.search(r"<h1>([^<]*)</h1>", page.text).group(1)
    f = fields(page.text)
    r = follow_here(s, s.post(f"{BASE}/u/prompt", data={"state": f["state"], "_csrf": f["_csrf"], "reason": "forgot it"},
                              allow_redirects=False))
    out["after_prompt"] = kind(r)
    return out


def reset_attacks():
    """Forged, oversized and cross-browser inputs of the reset pages: each refused, nothing used up."""
    out = {}
    s = requests.Session()
    page = s.get(f"{BASE}/u/reset-password", params={"client_id": "spa"})
    csrf = fields(page.text)["_csrf"]
    before = len(mails)
    out["request_no_csrf"] = s.post(f"{BASE}/u/reset-password", data={"identifier": USER}).status_code
    out["request_forged_csrf"] = s.post(f"{BASE}/u/reset-password", data={"identifier": USER, "_csrf": "0" * 64}).status_code
    out["request_oversized"] = s.post(f"{BASE}/u/reset-password", data={"identifier": "a" * 300, "_csrf": csrf}).status_code
    time.sleep(0.5)
    out["mails_after_refusals"] = len(mails) - before
    out["ticket_not_hex"] = s.get(f"{BASE}/u/reset-password/confirm", params={"ticket": "z" * 64}).status_code
    out["ticket_unknown"] = s.get(f"{BASE}/u/reset-password/confirm", params={"ticket": secrets.token_hex(32)}).status_code
    out["ticket_oversized"] = s.get(f"{BASE}/u/reset-password/confirm", params={"ticket": "a" * 5000}).status_code
    # A real link: its POST without the CSRF token, or from another browser, does not use it.
    _, r = reset_request("spa", session=s)
    link, _ = reset_link(before)
    ticket = link.split("ticket=")[1]
    out["confirm_no_csrf"] = s.post(f"{BASE}/u/reset-password/confirm", data={"ticket": ticket}).status_code
    other = requests.Session()
    out["confirm_other_browser"] = other.post(f"{BASE}/u/reset-password/confirm",
                                              data={"ticket": ticket, "_csrf": csrf}).status_code
    out["link_still_works"] = s.get(link).status_code
    page = s.get(link)
    r = follow_here(s, s.post(f"{BASE}/u/reset-password/confirm",
                               data={"ticket": ticket, "_csrf": fields(page.text)["_csrf"]}, allow_redirects=False))
    f = fields(r.text)
    out["new_no_csrf"] = s.post(f"{BASE}/u/reset-password/new", data={"state": f["state"], "password": STRONG, "confirm": STRONG}).status_code
    out["new_other_browser"] = other.post(f"{BASE}/u/reset-password/new",
                                          data={"state": f["state"], "_csrf": f["_csrf"], "password": STRONG, "confirm": STRONG}).status_code
    long = "Long-" + "x" * 200
    out["new_oversized"] = [set_password(s, r, long).status_code, text(set_password(s, r, long).text, "error")]
    out["still_new_password_page"] = kind(s.get(f"{BASE}/u/reset-password/new", params={"state": f["state"]}))
    return out


def reset_throttled():
    statuses = []
    s = requests.Session()
    for i in range(4):
        _, r = reset_request("spa", identifier=f"someone{i}@example.com", session=s)
        statuses.append(r.status_code)
    return {"statuses": statuses}


def across_nodes():
    """Enrolment begun on one node and confirmed on another; then a challenge shown by the
    second node answered on the first, and an email code sent by one node accepted by the
    other: everything an MFA step needs lives in the shared database."""
    a_base, b_base = BASE, job["peer_base"]
    out = {}
    a = Login(base=a_base)
    page = a.start("otp")
    out["enroll_page"] = page_kind(page)
    totp = pyotp.TOTP(text(page.text, "secret"))
    a.base = b_base
    r = a.post(page, action="verify", code=totp.now())
    out["enrolled_on_b"] = page_kind(r)
    a.base = a_base
    cb = a.follow(a.post(r, action="continue"))
    out["enrol_login_ok"] = "code" in cb
    out["amr"] = a.tokens(cb).get("amr")
    b = Login(base=b_base)
    page = b.start("otp")
    out["challenge_page_on_b"] = page_kind(page)
    b.base = a_base
    code = totp.at(time.time() + 30)
    cb = b.follow(b.post(page, action="verify", code=code))
    out["challenge_answered_on_a"] = "code" in cb
    b.base = b_base
    out["amr_b"] = b.tokens(cb).get("amr")
    c = Login(base=a_base)
    page = c.start("otp")
    c.base = b_base
    out["replayed_on_other_node"] = c.post(page, action="verify", code=code).status_code
    mails.clear()
    d = Login(base=b_base)
    page = d.start("email")
    out["email_page_on_b"] = page_kind(page)
    code, _ = email_code()
    d.base = a_base
    cb = d.follow(d.post(page, action="verify", code=code))
    out["email_code_accepted_on_a"] = "code" in cb
    return out


def passive_and_foreign():
    out = {}
    a = Login()
    cb = a.start("email", prompt="none")
    out["prompt_none_not_logged_in"] = cb
    a.start("")  # log in without MFA
    mails.clear()
    cb = a.start("email", prompt="none")
    out["prompt_none_with_session"] = cb
    page = Login(a.b).start("email")
    other = requests.Session()
    f = fields(page.text)
    out["foreign_get"] = other.get(f"{BASE}/u/mfa?state={f['state']}").status_code
    out["no_csrf"] = a.b.post(f"{BASE}/u/mfa", data={"state": f["state"], "action": "verify", "code": "1"}).status_code
    return out


try:
    print(json.dumps(globals()[job["check"]](), default=str))
finally:
    smtp.stop()
