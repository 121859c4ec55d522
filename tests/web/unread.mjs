// unread.mjs - unread badges, the page title and the private-message
// notification in web/ (docs/web.md "Unread"), in Debian's chromium against
// a running stack at $BASE. Run by tests/web.bats. Ana has two tabs of one
// profile on General; Tom opens their private channel and writes: both of
// Ana's tabs show a badge within 1 s and the count in the title; opening the
// channel in one tab clears it in both. The browser's Notification is a
// stand-in that records what the page asks of it (headless chromium shows
// none), and a tab can be made to look hidden.
// Prints one "ok - ..." line per check and exits 1 at the first failure.
//   BASE      the stack's URL (required)
//   ARTIFACTS where screenshots of a failure go
//   CHROMIUM  the browser binary (default /usr/bin/chromium)
import { browserScript, check, until as untilMs } from "./harness.mjs";

const BADGE_MS = 1000; // a badge shows within this of the message's send
const CLEAR_MS = 2000; // and clears in every tab within this of the click

const run = await browserScript("unread-");
const { BASE, browser, problems, ok, fail } = run;

const until = (fn, what, timeout) => untilMs(fn, what, timeout, 25);


// A Notification that records instead of showing, permission "default"
// until asked (then "granted" for the origin); and document.visibilityState
// that a test can set.
function fakes() {
  window.__notes = [];
  window.__asked = 0;
  window.__hidden = false;
  class FakeNotification {
    constructor(title, opts = {}) {
      window.__notes.push({ title, body: opts.body || "", tag: opts.tag || "" });
    }

    close() {}
  }
  // the origin's permission, as the browser keeps it: for every tab
  Object.defineProperty(FakeNotification, "permission", {
    get: () => localStorage.getItem("fake.permission") || "default",
  });
  FakeNotification.requestPermission = async () => {
    window.__asked += 1;
    localStorage.setItem("fake.permission", "granted");
    return "granted";
  };
  window.Notification = FakeNotification;
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true,
    get: () => (window.__hidden ? "hidden" : "visible"),
  });
}

async function newTab(context, name) {
  const page = run.watch(await context.newPage(), name);
  await page.goto(BASE + "/");
  return page;
}

async function signIn(page, name, password) {
  await page.locator("#signin-form").waitFor({ timeout: 5000 });
  await page.fill("#username", name);
  await page.fill("#password", password);
  await page.press("#password", "Enter");
  await signedIn(page, name);
}

async function signedIn(page, name) {
  await until(async () => (await page.isVisible("#chat-view")) &&
    (await page.textContent("#me-name")) === name, `${page.name} signed in as ${name}`, 10000);
  await until(() => page.locator("#banner").isHidden(), `${page.name} connected`, 10000);
}

function room(page, name) {
  return page.locator("#rooms button.room", { has: page.locator(".room-name", { hasText: name }) });
}

// The badge count of a room (0 = none).
async function badge(page, name) {
  const b = room(page, name).locator(".badge");
  return (await b.count()) ? Number(await b.getAttribute("data-count")) : 0;
}

async function say(page, text) {
  await page.fill("#message", text);
  await page.press("#message", "Enter");
}

try {
  const suffix = Date.now().toString(36);
  const ana = `ana-${suffix}`;
  const tom = `tom-${suffix}`;
  const anaCtx = await browser.newContext({ locale: "en-GB", timezoneId: "UTC" });
  await anaCtx.addInitScript(fakes);
  const tomCtx = await browser.newContext({ locale: "en-GB", timezoneId: "UTC" });

  const tom1 = await newTab(tomCtx, "tom");
  await signIn(tom1, tom, "pw-tom-1");
  const ana1 = await newTab(anaCtx, "ana1");
  await signIn(ana1, ana, "pw-ana-1");
  const ana2 = await newTab(anaCtx, "ana2");
  await signedIn(ana2, ana);
  for (const p of [ana1, ana2]) {
    check(await p.title() === "Redis chat", `${p.name} title: ${await p.title()}`);
    check(await p.textContent("#channel-title") === "General", `${p.name} reads General`);
    await until(async () => (await room(p, tom).count()) === 1, `${p.name} lists ${tom}`, 5000);
  }
  ok("Ana reads General in two tabs of one profile; no badge, title \"Redis chat\"");

  // nothing asked on load; the button asks on a click
  check(await ana1.evaluate(() => window.__asked) === 0, "permission asked on load");
  check(await ana1.isVisible("#notify"), "the notification button is shown");
  await ana1.click("#notify");
  await until(async () => (await ana1.getAttribute("#notify", "aria-pressed")) === "true",
    "notifications on after the click", 2000);
  check(await ana1.evaluate(() => window.__asked) === 1, "permission asked once, on the click");
  ok("notification permission is asked only after a click on \"Notify me\"");

  // -------------------------------------------------- Tom writes privately
  await until(async () => (await room(tom1, ana).count()) === 1, `tom lists ${ana}`, 5000);
  await room(tom1, ana).click();
  await until(async () => (await tom1.textContent("#channel-title")) === `Private chat with ${ana}`,
    "tom in the private channel", 5000);
  await ana2.evaluate(() => { window.__hidden = true; }); // as if Ana looked at another window
  const text = "psst, private for ana";
  const t0 = Date.now();
  await say(tom1, text);
  await Promise.all([ana1, ana2].map((p) => until(async () => (await badge(p, tom)) === 1,
    `${p.name} shows a badge of 1 on ${tom}`, BADGE_MS)));
  const ms = Date.now() - t0;
  for (const p of [ana1, ana2]) {
    await until(async () => (await p.title()) === "(1) Redis chat", `${p.name} title (1)`, 1000);
    check(await badge(p, "General") === 0, `${p.name}: no badge on General`);
    const shown = await p.$$eval("#messages .msg-text", (ns) => ns.map((n) => n.textContent));
    check(!shown.includes(text), `${p.name} shows the private text in General`);
  }
  ok(`Tom's private message: a badge on ${tom} in both of Ana's tabs within ${BADGE_MS} ms (${ms} ms), title "(1) Redis chat"`);

  // the hidden tab notified: the sender's name, never the text
  const notes = await ana2.evaluate(() => window.__notes);
  check(notes.length === 1 && notes[0].title === tom && !notes[0].body.includes("psst"),
    `notifications of the hidden tab: ${JSON.stringify(notes)}`);
  check((await ana1.evaluate(() => window.__notes)).length === 0, "the visible tab notified");
  ok("the hidden tab notified once, with the sender's name and not the text");

  // -------------------------------------------------- a second one counts
  await say(tom1, "and another");
  await Promise.all([ana1, ana2].map((p) => until(async () => (await badge(p, tom)) === 2,
    `${p.name} shows a badge of 2`, BADGE_MS)));
  await until(async () => (await ana1.title()) === "(2) Redis chat", "title (2)", 1000);
  ok("a second private message: badge 2, title \"(2) Redis chat\"");

  // -------------------------------------------------- opening clears both tabs
  await room(ana1, tom).click();
  await until(async () => (await ana1.textContent("#channel-title")) === `Private chat with ${tom}`,
    "ana1 opened the private channel", 5000);
  await Promise.all([ana1, ana2].map((p) => until(async () => (await badge(p, tom)) === 0 &&
    (await p.title()) === "Redis chat", `${p.name}: badge cleared`, CLEAR_MS)));
  const shown = await ana1.$$eval("#messages .msg-text", (ns) => ns.map((n) => n.textContent));
  check(shown.includes(text) && shown.includes("and another"), `ana1 shows the messages: ${JSON.stringify(shown)}`);
  ok(`opening the channel in one tab clears the badge and the title in both within ${CLEAR_MS} ms`);

  // the counts are the server's: a reload of a tab shows none again
  await ana2.reload();
  await signedIn(ana2, ana);
  await until(async () => (await room(ana2, tom).count()) === 1, "ana2 lists tom after reload", 5000);
  await new Promise((r) => setTimeout(r, 500));
  check(await badge(ana2, tom) === 0, "a badge came back after the reload");
  ok("after a reload the read channel has no badge (the count is the server's)");

  check(problems.length === 0, `page problems: ${problems.join("; ")}`);
  ok("no page errors");
  await browser.close();
} catch (err) {
  await fail(err);
}
