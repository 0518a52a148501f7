// Drives Debian's Chromium through the MFA pages with the keyboard, keeping a screenshot of each:
// enrolment (QR code), recovery code, challenge (authenticator app), challenge (email), picker.
// Usage: node mfa.mjs IDP_BASE APP_CALLBACK OUT_DIR; prints a JSON report.
import { session } from "./session.mjs";
import { createHmac } from "node:crypto";

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
const { context, report, shot, login, authorize } = await session(idp, callback, out);
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
