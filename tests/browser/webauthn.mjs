// WebAuthn in Debian's Chromium with CDP virtual authenticators: register this device
// (platform, user verification), log in with it, then the attacks a browser can make (a replayed
// answer, a downgraded user verification, garbage), then a security key (roaming) registered and
// used. Screenshots of the pages are kept. Usage: node webauthn.mjs IDP_BASE APP_CALLBACK OUT_DIR;
// prints a JSON report.
import { session } from "./session.mjs";
import { createHash } from "node:crypto";

const [idp, callback, out] = process.argv.slice(2);
// PKCE (S256) for the app's token request.
const VERIFIER = "webauthn-test-verifier-0123456789-0123456789-0123456789";
const CHALLENGE = createHash("sha256").update(VERIFIER).digest("base64url");
const { context, report, shot, login, authorize } = await session(idp, callback, out, CHALLENGE);
// The claims of the ID token the callback's code redeems for (the signature is checked by the
// conformance tests; here the amr and the methods the next action saw).
const claims = async (page) => {
  const code = new URL(page.url()).searchParams.get("code");
  const r = await fetch(`${idp}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: callback, client_id: "spa",
                                code_verifier: VERIFIER }),
  });
  const t = await r.json();
  return JSON.parse(Buffer.from(t.id_token.split(".")[1], "base64url").toString());
};
// Submits the WebAuthn form with a hand-made answer (what an attacker's browser can send).
const submitAnswer = async (page, answer) => {
  await page.evaluate((a) => {
    document.getElementById("credential").value = a;
    document.getElementById("webauthn").submit();
  }, answer);
  await page.waitForLoadState();
};
try {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const platform = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true,
               isUserVerified: true, automaticPresenceSimulation: true },
  });
  const answers = [];
  page.on("request", (r) => {
    if (r.method() === "POST" && r.url().endsWith("/u/mfa")) {
      const c = new URLSearchParams(r.postData() || "").get("credential");
      if (c) answers.push(c);
    }
  });

  // 1. Registration of this device, then the first recovery code.
  await page.goto(authorize("webauthn-platform"));
  await login(page);
  await page.waitForSelector("#webauthn[data-mode=create]");
  report.registerOptions = JSON.parse(await page.getAttribute("#webauthn", "data-options")).publicKey.authenticatorSelection;
  report.buttonLabelled = (await page.textContent("#webauthn-start")).trim();
  await shot(page, "mfa-webauthn-register");
  await page.click("#webauthn-start");
  await page.waitForSelector("#recovery-code");
  report.registered = (await cdp.send("WebAuthn.getCredentials", { authenticatorId: platform.authenticatorId })).credentials.length;
  await page.click("#continue button");
  await page.waitForSelector("#app");
  report.registerAmr = (await claims(page)).amr;

  // 2. A login with it.
  await page.goto(authorize("webauthn-platform", "&prompt=login"));
  await login(page);
  await page.waitForSelector("#webauthn[data-mode=get]");
  await shot(page, "mfa-webauthn-challenge");
  await page.click("#webauthn-start");
  await page.waitForSelector("#app");
  const c = await claims(page);
  report.challengeAmr = c.amr;
  report.methodsSeen = c["https://idpipe.dev/methods"];
  const used = answers[answers.length - 1];

  // 3. Attacks on a new login's challenge: the previous answer replayed, garbage, and the
  // client lowering user verification (the authenticator then does not verify the user).
  await page.goto(authorize("webauthn-platform", "&prompt=login"));
  await login(page);
  await page.waitForSelector("#webauthn[data-mode=get]");
  await submitAnswer(page, used);
  report.replay = await page.textContent("#error").catch(() => null);
  await page.waitForSelector("#webauthn[data-mode=get]");
  await submitAnswer(page, "{\"id\":\"x\",\"rawId\":\"eA\",\"type\":\"public-key\",\"response\":{}}");
  report.garbage = await page.textContent("#error").catch(() => null);
  await page.waitForSelector("#webauthn[data-mode=get]");
  await cdp.send("WebAuthn.setUserVerified", { authenticatorId: platform.authenticatorId, isUserVerified: false });
  await page.evaluate(() => {
    const f = document.getElementById("webauthn");
    const o = JSON.parse(f.getAttribute("data-options"));
    o.publicKey.userVerification = "discouraged";
    f.setAttribute("data-options", JSON.stringify(o));
  });
  await page.click("#webauthn-start");
  await page.waitForSelector("#error");
  report.uvDowngrade = await page.textContent("#error");
  report.uvDowngradeStillOnPage = await page.locator("#webauthn[data-mode=get]").count();
  await cdp.send("WebAuthn.setUserVerified", { authenticatorId: platform.authenticatorId, isUserVerified: true });
  // The right answer still works on the same page (a fresh challenge after each failure).
  await page.click("#webauthn-start");
  await page.waitForSelector("#app");
  report.afterAttacks = true;

  // 4. A security key (no user verification of its own): registered, then used.
  await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: platform.authenticatorId });
  const key = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "usb", hasResidentKey: false, hasUserVerification: false,
               automaticPresenceSimulation: true },
  });
  await page.goto(authorize("webauthn-roaming", "&prompt=login"));
  await login(page);
  await page.waitForSelector("#webauthn[data-mode=create]");
  report.roamingOptions = JSON.parse(await page.getAttribute("#webauthn", "data-options")).publicKey.authenticatorSelection;
  await shot(page, "mfa-webauthn-register-key");
  await page.click("#webauthn-start");
  await page.waitForSelector("#app");
  report.keyRegistered = (await cdp.send("WebAuthn.getCredentials", { authenticatorId: key.authenticatorId })).credentials.length;
  await page.goto(authorize("webauthn-roaming", "&prompt=login"));
  await login(page);
  await page.waitForSelector("#webauthn[data-mode=get]");
  await shot(page, "mfa-webauthn-challenge-key");
  await page.click("#webauthn-start");
  await page.waitForSelector("#app");
  report.keyAmr = (await claims(page)).amr;
} catch (e) {
  report.error = String(e);
  for (const p of context.pages()) {
    report.status = await p.textContent("#webauthn-status").catch(() => null);
    report.pageError = await p.textContent("#error").catch(() => null);
  }
} finally {
  await context.close();
}
console.log(JSON.stringify(report));
