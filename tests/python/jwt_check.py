"""PyJWT, an independent JOSE library, verifying idpipe's tokens against idpipe's JWKS.

Reads {"jwks": {...}, "issuer": "...", "tokens": [{"token", "audience"}]} on stdin and prints, per
token, {"ok": true, "header", "claims"} or {"ok": false, "error"}.
"""
import json
import sys

import jwt

job = json.load(sys.stdin)
jwks = jwt.PyJWKSet.from_dict(job["jwks"])
out = []
for t in job["tokens"]:
    try:
        header = jwt.get_unverified_header(t["token"])
        matches = [k for k in jwks.keys if k.key_id == header.get("kid")]
        if not matches:
            raise LookupError(f"no key {header.get('kid')} in the JWKS")
        claims = jwt.decode(
            t["token"],
            key=matches[0].key,
            algorithms=["RS256"],
            audience=t.get("audience"),
            issuer=job["issuer"],
            options={"require": ["exp", "iat", "iss", "sub", "aud"]},
        )
        out.append({"ok": True, "header": header, "claims": claims})
    except Exception as e:  # noqa: BLE001 - every failure is a verdict
        out.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
print(json.dumps(out))
