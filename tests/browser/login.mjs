// Drives Debian's Chromium through an SP-initiated SAML login: SP -> idpipe login page
// (screenshot kept) -> credentials -> auto-POST -> the SP's ACS page with the validated NameID.
// Usage: node login.mjs SP_LOGIN_URL USERNAME PASSWORD SCREENSHOT_PATH; prints a JSON report.
import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [spLogin, username, password, screenshot] = process.argv.slice(2);
const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "idpipe-chromium-")), {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const report = {};
try {
  const page = await context.newPage();
  await page.goto(spLogin);
  await page.waitForSelector("#username");
  report.loginUrl = page.url();
  report.loginTitle = await page.title();
  await page.screenshot({ path: screenshot, fullPage: true });
  await page.fill("#username", username);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(/\/acs$/, { timeout: 15000 }), page.click("button[type=submit]")]);
  report.finalUrl = page.url();
  report.nameid = await page.textContent("#nameid").catch(() => null);
  report.relay = await page.textContent("#relay").catch(() => null);
  report.body = (await page.textContent("body")).slice(0, 2000);
  report.cookies = (await context.cookies()).map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite }));
} catch (e) {
  report.error = String(e);
} finally {
  await context.close();
}
console.log(JSON.stringify(report));
