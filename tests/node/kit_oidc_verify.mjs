// Verifies every fixture of an `idpipe kit oidc` folder with jose, as a careful Node app or API
// does, and prints each file's verdict and the check that refused it. Usage (with jose
// installed next to this file): node kit_oidc_verify.mjs KIT_FOLDER
import { readFileSync } from "node:fs";
import * as jose from "jose";

const dir = process.argv[2];
const manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, "utf8"));
const jwks = jose.createLocalJWKSet(JSON.parse(readFileSync(`${dir}/${manifest.jwks}`, "utf8")));

function checkOf(e) {
  switch (e.code) {
    case "ERR_JWT_EXPIRED": return "exp";
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": return e.claim; // nbf, aud, iss, typ
    case "ERR_JOSE_ALG_NOT_ALLOWED": case "ERR_JOSE_NOT_SUPPORTED": return "alg";
    case "ERR_JWKS_NO_MATCHING_KEY": return "kid";
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED": return "signature";
    case "NONCE": return "nonce";
    default: return `other: ${e.code} ${e.message}`;
  }
}

const out = {};
for (const f of manifest.fixtures) {
  const token = readFileSync(`${dir}/${f.file}`, "utf8").trim();
  const access = f.kind === "access_token";
  try {
    const { payload } = await jose.jwtVerify(token, jwks, {
      issuer: manifest.issuer,
      audience: access ? manifest.audience : manifest.client_id,
      algorithms: manifest.algorithms,
      currentDate: new Date(manifest.now * 1000),
      typ: access ? "at+jwt" : undefined,
      requiredClaims: ["exp", "iat", "sub"],
    });
    if (!access && payload.nonce !== manifest.nonce) throw Object.assign(new Error("nonce mismatch"), { code: "NONCE" });
    out[f.file] = ["accept", "none"];
  } catch (e) {
    out[f.file] = ["reject", checkOf(e)];
  }
}
console.log(JSON.stringify(out));
