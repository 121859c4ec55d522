// harness.mjs - what the Chromium scripts share: Debian's chromium through
// playwright-core (no browser download), and waiting for a condition.
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
