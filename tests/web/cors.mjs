// cors.mjs - opens tests/web/cors/ in Debian's chromium from an allowed
// origin (ALLOWED) and from one that is not (DENIED); prints both results.
import { launchChromium } from "./harness.mjs";

const browser = await launchChromium();
try {
  for (const [label, origin] of [["allowed", process.env.ALLOWED], ["denied", process.env.DENIED]]) {
    const page = await browser.newPage();
    await page.goto(`${origin}/index.html?base=${encodeURIComponent(process.env.BASE)}`);
    await page.waitForFunction(() => window.result !== undefined, null, { timeout: 20000 });
    console.log(`${label}: ${await page.evaluate(() => window.result)}`);
    await page.close();
  }
} finally {
  await browser.close();
}
