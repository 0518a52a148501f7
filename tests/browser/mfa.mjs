// Drives Debian's Chromium through the MFA pages with the keyboard, keeping a screenshot of each:
// enrolment (QR code), recovery code, challenge (authenticator app), challenge (email), picker.
// Usage: node mfa.mjs IDP_BASE APP_CALLBACK OUT_DIR; prints a JSON report.
import { chromium } from "playwright-core";
import { createHmac } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [idp, callback, out] = process.argv.slice(2);
// RFC 6238 for the test's "authenticator app" (SHA-1, 6 digits, 30 s).
function totp(b32, t = Date.now() / 1000) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of b32.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(t / 30)));
  const h = createHmac("sha1", key).update(counter).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, "0");
}
const authorize = (mfa, extra = "") =>
  `${idp}/authorize?client_id=spa&response_type=code&redirect_uri=${encodeURIComponent(callback)}&scope=openid&state=s` +
  `&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&mfa=${mfa}${extra}`;
const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "idpipe-chromium-")), {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
await context.route(`${callback}**`, (route) => route.fulfill({ status: 200, contentType: "text/html", body: "<h1 id=app>app</h1>" }));
const report = { shots: [] };
const shot = async (page, name) => {
  await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
  report.shots.push(name);
};
const login = async (page) => {
  await page.waitForSelector("#username");
  await page.fill("#username", "jane.doe@example.com");
  await page.fill("#password", "jane-demo-password");
  await page.keyboard.press("Enter");
};
try {
  const page = await context.newPage();
  await page.goto(authorize("otp"));
  await login(page);
  await page.waitForSelector("#qr svg");
  report.codeLabelled = (await page.locator("label[for=code]").count()) === 1;
  await shot(page, "mfa-enroll-otp");
  const secret = await page.textContent("#secret");
  await page.focus("#code");
  await page.keyboard.type(totp(secret));
  await page.keyboard.press("Enter");
  await page.waitForSelector("#recovery-code");
  await shot(page, "mfa-recovery-code");
  await page.click("#continue button");
  await page.waitForSelector("#app");
  report.enrolled = true;

  await page.goto(authorize("otp-or-email", "&prompt=login"));
  await login(page);
  await page.waitForSelector("#verify");
  await shot(page, "mfa-challenge-otp");
  await page.click("#others button[value=email]");
  await page.waitForSelector("#hint");
  report.emailHint = await page.textContent("#hint");
  await shot(page, "mfa-challenge-email");

  await page.goto(authorize("any", "&prompt=login"));
  await login(page);
  await page.waitForSelector("#picker");
  await shot(page, "mfa-picker");
  // The picker with the keyboard: Tab to the first method, Enter.
  await page.focus("#picker button");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#code");
  report.pickedWithKeyboard = true;

  await page.goto(authorize("phone-enrol", "&prompt=login"));
  await login(page);
  await page.waitForSelector("#phone #number");
  report.phoneLabelled = (await page.locator("label[for=number]").count()) === 1;
  await shot(page, "mfa-enroll-phone");
} catch (e) {
  report.error = String(e);
} finally {
  await context.close();
}
console.log(JSON.stringify(report));
