"""Verifies every fixture of an `idpipe kit oidc` folder the way a careful relying party (ID
tokens) and resource server (access tokens, RFC 9068) do, with two independent libraries:
PyJWT and Authlib. Prints, per file and library, the verdict and the check that refused it.

Job (stdin): {"dir": KIT_FOLDER}. Nothing here reads the manifest's verdicts: only its inputs
(issuer, client_id, audience, nonce, now).
"""
import json
import os
import sys

import jwt
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.jose import errors as aerr

job = json.load(sys.stdin)
folder = job["dir"]
manifest = json.load(open(os.path.join(folder, "manifest.json")))
jwks = json.load(open(os.path.join(folder, manifest["jwks"])))
now = manifest["now"]


def pyjwt_verdict(token, kind):
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        return "reject", "format"
    if header.get("alg") not in manifest["algorithms"]:
        return "reject", "alg"
    keys = {k["kid"]: k for k in jwks["keys"]}
    if header.get("kid") not in keys:
        return "reject", "kid"
    if kind == "access_token" and header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
        return "reject", "typ"
    key = jwt.PyJWK(keys[header["kid"]]).key
    audience = manifest["client_id"] if kind == "id_token" else manifest["audience"]
    try:
        # The kit's clock: `now` is when the tokens were issued.
        claims = jwt.decode(token, key, algorithms=manifest["algorithms"], audience=audience, issuer=manifest["issuer"],
                            options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_exp": False, "verify_nbf": False})
    except jwt.InvalidSignatureError:
        return "reject", "signature"
    except jwt.InvalidAudienceError:
        return "reject", "aud"
    except jwt.InvalidIssuerError:
        return "reject", "iss"
    except jwt.InvalidTokenError as e:
        return "reject", "other: " + str(e)
    if claims["exp"] <= now:
        return "reject", "exp"
    if "nbf" in claims and claims["nbf"] > now:
        return "reject", "nbf"
    if kind == "id_token" and claims.get("nonce") != manifest["nonce"]:
        return "reject", "nonce"
    return "accept", "none"


def authlib_verdict(token, kind):
    try:
        header = json.loads(jwt.utils.base64url_decode(token.split(".")[0]))
    except Exception:
        return "reject", "format"
    if header.get("alg") not in manifest["algorithms"]:
        return "reject", "alg"
    key_set = JsonWebKey.import_key_set(jwks)
    try:
        key = key_set.find_by_kid(header.get("kid"))
    except ValueError:
        return "reject", "kid"
    if kind == "access_token" and header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
        return "reject", "typ"
    audience = manifest["client_id"] if kind == "id_token" else manifest["audience"]
    options = {"iss": {"essential": True, "value": manifest["issuer"]}, "aud": {"essential": True, "value": audience},
               "exp": {"essential": True}, "sub": {"essential": True}}
    if kind == "id_token":
        options["nonce"] = {"essential": True, "value": manifest["nonce"]}
    try:
        claims = JsonWebToken(manifest["algorithms"]).decode(token, key, claims_options=options)
    except aerr.BadSignatureError:
        return "reject", "signature"
    except (aerr.UnsupportedAlgorithmError, aerr.InvalidHeaderParameterNameError):
        return "reject", "alg"
    except aerr.DecodeError:
        return "reject", "format"
    try:
        claims.validate(now=now)
    except aerr.ExpiredTokenError:
        return "reject", "exp"
    except aerr.InvalidTokenError:
        return "reject", "nbf"
    except aerr.InvalidClaimError as e:
        return "reject", e.claim_name
    except aerr.MissingClaimError as e:
        return "reject", "missing " + e.claim_name
    return "accept", "none"


out = {}
for f in manifest["fixtures"]:
    token = open(os.path.join(folder, f["file"])).read().strip()
    out[f["file"]] = {"pyjwt": list(pyjwt_verdict(token, f["kind"])), "authlib": list(authlib_verdict(token, f["kind"]))}
print(json.dumps(out))
