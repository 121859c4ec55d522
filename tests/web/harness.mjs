// harness.mjs - what the Chromium scripts share: Debian's chromium through
// playwright-core (no browser download), a script's frame (browserScript)
// and waiting for a condition.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

export function check(cond, what) {
  if (!cond) throw new Error(what);
}

// Polls fn every stepMs until it returns something truthy (returned), or
// throws after timeout ms with the last value or error.
export async function until(fn, what, timeout, stepMs = 100) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms: ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

// The frame of a script tests/web.bats runs: BASE (required; exit 2
// without it), ARTIFACTS (made), the browser, numbered "ok N - ..." lines,
// the page errors and console errors of every watched page (problems), and
// fail(): "not ok", a screenshot FAILED-<prefix><name>.png of each page
// still watched, the problems, exit 1.
export async function browserScript(prefix) {
  const BASE = process.env.BASE;
  if (!BASE) {
    console.error("BASE is not set");
    process.exit(2);
  }
  const ART = process.env.ARTIFACTS || "tests/artifacts/web";
  mkdirSync(ART, { recursive: true });
  const browser = await launchChromium();
  const problems = [];
  const pages = new Map();
  let step = 0;
  return {
    BASE, ART, browser, problems,
    get steps() {
      return step;
    },
    ok(what) {
      step += 1;
      console.log(`ok ${step} - ${what}`);
    },
    watch(page, name) {
      page.name = name;
      page.on("pageerror", (e) => problems.push(`${name}: page error: ${e.message}`));
      page.on("console", (m) => {
        // A fetch answered 4xx/5xx is logged by chromium as "Failed to load
        // resource"; those are expected (401 after sign-out, 503 tests).
        if (m.type() === "error" && !/Failed to load resource/.test(m.text())) {
          problems.push(`${name}: console: ${m.text()}`);
        }
      });
      pages.set(name, page);
      return page;
    },
    unwatch(name) {
      pages.delete(name);
    },
    async fail(err) {
      console.log(`not ok ${step + 1} - ${err && err.message ? err.message : err}`);
      for (const [name, page] of pages) {
        try {
          await page.screenshot({ path: join(ART, `FAILED-${prefix}${name}.png`) });
        } catch {
          /* closed already */
        }
      }
      if (problems.length) console.log(`# page problems:\n# ${problems.join("\n# ")}`);
      await browser.close();
      process.exit(1);
    },
  };
}
