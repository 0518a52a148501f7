// What the MFA, WebAuthn and reset drivers share: Debian's Chromium in a throw-away profile with
// the app's callback answered in the browser, the authorize URL of the test app `spa`, screenshots
// into the report, and the login form.
import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Starts Chromium; returns {context, report, shot, login, authorize}. */
export async function session(idp, callback, out, challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") {
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
  const login = async (page, password = "jane-demo-password") => {
    await page.waitForSelector("#username");
    await page.fill("#username", "jane.doe@example.com");
    await page.fill("#password", password);
    await page.keyboard.press("Enter");
  };
  const authorize = (mfa, extra = "") =>
    `${idp}/authorize?client_id=spa&response_type=code&redirect_uri=${encodeURIComponent(callback)}&scope=openid&state=s` +
    `&code_challenge=${challenge}&code_challenge_method=S256&mfa=${mfa}${extra}`;
  return { context, report, shot, login, authorize };
}
