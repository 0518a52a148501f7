// A custom prompt and a password reset in Debian's Chromium, keeping a screenshot of each page:
// the progressive-profiling prompt after login, then "Forgot your password?", the email (read
// from the development outbox), the link's page, a refused weak password, the changed page, and
// a login with the new password. Usage: node reset.mjs IDP_BASE APP_CALLBACK OUT_DIR OUTBOX;
// prints a JSON report.
import { session } from "./session.mjs";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const [idp, callback, out, outbox] = process.argv.slice(2);
const { context, report, shot, login, authorize } = await session(idp, callback, out);
// The reset link of the newest message in the outbox (quoted-printable undone).
const linkFromOutbox = async () => {
  for (let i = 0; i < 50; i++) {
    const files = (() => { try { return readdirSync(outbox); } catch { return []; } })();
    for (const f of files) {
      const text = readFileSync(join(outbox, f), "utf8").replace(/=\r?\n/g, "").replace(/=3D/g, "=");
      const m = text.match(/https?:\/\/\S+\/u\/reset-password\/confirm\?ticket=[0-9a-f]{64}/);
      if (m) return m[0];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
};
try {
  const page = await context.newPage();
  // 1. The prompt after login.
  await page.goto(authorize("profile"));
  await login(page, "jane-demo-password");
  await page.waitForSelector("#prompt");
  report.promptTitle = await page.textContent("h1");
  await shot(page, "prompt-profile");
  await page.selectOption("#f-favorite_color", "green");
  await page.check("#f-terms");
  await page.click("#prompt button[type=submit]");
  await page.waitForSelector("#app");
  report.promptDone = true;

  // 2. The password reset from the login page.
  await page.goto(authorize("", "&prompt=login"));
  await page.waitForSelector("#forgot");
  await page.click("#forgot");
  await page.waitForSelector("#reset-request");
  await shot(page, "reset-request");
  await page.fill("#identifier", "jane.doe@example.com");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#sent");
  await shot(page, "reset-sent");
  const link = await linkFromOutbox();
  report.link = !!link;
  await page.goto(link);
  await page.waitForSelector("#reset-confirm");
  await shot(page, "reset-link");
  await page.click("#reset-confirm button");
  await page.waitForSelector("#new-password");
  await page.fill("#password", "password123");
  await page.fill("#confirm", "password123");
  await page.click("#new-password button");
  await page.waitForSelector("#error");
  report.weakRefused = await page.textContent("#error");
  await shot(page, "reset-new-password");
  await page.fill("#password", "violet-kayak-harbour-1987");
  await page.fill("#confirm", "violet-kayak-harbour-1987");
  await page.click("#new-password button");
  await page.waitForSelector("#changed");
  await shot(page, "reset-changed");
  report.backLink = await page.getAttribute("#back", "href");

  // 3. The new password works.
  await page.goto(authorize("", "&prompt=login"));
  await login(page, "violet-kayak-harbour-1987");
  await page.waitForSelector("#app");
  report.loggedInWithNewPassword = true;
} catch (e) {
  report.error = String(e);
} finally {
  await context.close();
}
console.log(JSON.stringify(report));
