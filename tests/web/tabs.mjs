// tabs.mjs - ten tabs of one browser profile over HTTP/1.1 share one poll
// (web/js/tabs.js). Run by tests/web.bats against a running stack at $BASE
// (plain http, so chromium speaks HTTP/1.1: 6 connections per host).
// Prints one "ok - ..." line per check and exits 1 at the first failure.
//   BASE      the stack's URL (required)
//   ARTIFACTS where screenshots of a failure go
//   CHROMIUM  the browser binary (default /usr/bin/chromium)
import { browserScript, check, until as untilMs } from "./harness.mjs";

const TABS = 10;
const SIGN_IN_MS = 2000; // every tab signs in within this
const SHOW_MS = 1000; // and shows each message within this

const run = await browserScript("tabs-");
const { BASE, browser, problems, ok, fail } = run;

const until = (fn, what, timeout) => untilMs(fn, what, timeout, 25);

const pollAt = new Map(); // tab name -> when it last asked for /poll

async function newTab(context, name) {
  const page = run.watch(await context.newPage(), name);
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === "/poll") pollAt.set(name, Date.now());
  });
  return page;
}

// The tab of pages that asked for /poll last: the one holding the lock.
function pollingTab(pages) {
  return pages.reduce((a, b) => ((pollAt.get(b.name) || 0) > (pollAt.get(a.name) || 0) ? b : a));
}

const isJoin = (req) => new URL(req.url()).pathname === "/api" &&
  (req.postData() || "").includes('"type":"channelJoin"');

async function signedInAs(page, name, timeout) {
  await until(async () => (await page.isVisible("#chat-view")) &&
    (await page.textContent("#me-name")) === name, `${page.name} signed in as ${name}`, timeout);
}

// Every page shows the sign-in form, or is signed in as name, within SIGN_IN_MS.
function allSignedOut(pages) {
  return Promise.all(pages.map((p) => until(() => p.isVisible("#signin-form"), `${p.name} signed out`, SIGN_IN_MS)));
}

function allSignedIn(pages, name) {
  return Promise.all(pages.map((p) => signedInAs(p, name, SIGN_IN_MS)));
}

async function formSignIn(page, name, password) {
  await page.locator("#signin-form").waitFor({ timeout: 5000 });
  await page.fill("#username", name);
  await page.fill("#password", password);
  await page.press("#password", "Enter");
}

function bubbles(page) {
  return page.$$eval("#messages .msg:not(.pending) .msg-text", (ns) => ns.map((n) => n.textContent));
}

async function say(page, text) {
  await page.fill("#message", text);
  await page.press("#message", "Enter");
}

// Every page shows text within ms of now; returns the slowest time.
async function allSee(pages, text, ms) {
  const t0 = Date.now();
  let slowest = 0;
  await Promise.all(pages.map(async (p) => {
    await until(async () => (await bubbles(p)).includes(text), `${p.name} shows "${text}"`, ms);
    slowest = Math.max(slowest, Date.now() - t0);
  }));
  return slowest;
}

async function parkedPolls() {
  const r = await fetch(BASE + "/metrics");
  const m = /^chat_poller_parked_polls (\d+)$/m.exec(await r.text());
  return m ? Number(m[1]) : -1;
}


try {
  const suffix = Date.now().toString(36);
  const ana = `ana-${suffix}`;
  const tom = `tom-${suffix}`;
  const profile = await browser.newContext({ locale: "en-GB", timezoneId: "UTC" });
  const tabs = [];

  // -------------------------------------------------- ten tabs sign in
  const first = await newTab(profile, "tab1");
  await first.goto(BASE + "/");
  await formSignIn(first, ana, "pw-ana-1");
  await signedInAs(first, ana, 10000);
  tabs.push(first);
  let slowest = 0;
  for (let i = 2; i <= TABS; i++) {
    const p = await newTab(profile, `tab${i}`);
    const t0 = Date.now();
    await p.goto(BASE + "/");
    await signedInAs(p, ana, SIGN_IN_MS);
    slowest = Math.max(slowest, Date.now() - t0);
    tabs.push(p);
  }
  ok(`${TABS} tabs over HTTP/1.1 each signed in within ${SIGN_IN_MS} ms (slowest ${slowest} ms)`);

  // the profile holds one poll, not one per tab
  let polls = 0;
  for (let i = 0; i < 10; i++) {
    const n = await parkedPolls();
    check(n >= 0 && n <= 1, `poller holds ${n} polls for one profile`);
    polls = Math.max(polls, n);
    await new Promise((r) => setTimeout(r, 100));
  }
  check(polls === 1, "the profile's one poll is parked");
  ok("the poller holds one poll for the ten tabs");

  // -------------------------------------------------- messages reach every tab
  const tomCtx = await browser.newContext({ locale: "en-GB", timezoneId: "UTC" });
  const tomPage = await newTab(tomCtx, "tom");
  await tomPage.goto(BASE + "/");
  await formSignIn(tomPage, tom, "pw-tom-1");
  await signedInAs(tomPage, tom, 10000);
  await until(() => tomPage.locator("#banner").isHidden(), "tom connected", 10000);

  for (const [from, i] of [[tabs[7], 1], [tabs[9], 2], [tomPage, 3]]) {
    const text = `hello ${i} from ${from.name}`;
    await say(from, text);
    const ms = await allSee([...tabs, tomPage], text, SHOW_MS);
    ok(`"${text}" shown in all ${TABS} tabs and tom's within ${SHOW_MS} ms (slowest ${ms} ms)`);
  }

  // -------------------------------------------------- the polling tab closes
  await tabs[0].close();
  tabs.shift();
  const after = `after the leader closed ${suffix}`;
  await say(tomPage, after);
  const ms = await allSee(tabs, after, 3000);
  ok(`leader tab closed: another tab polls on, all ${tabs.length} tabs show tom's message (${ms} ms)`);
  const more = `exactly once ${suffix}`;
  await say(tabs[3], more);
  await allSee(tabs, more, SHOW_MS);
  for (const p of tabs) {
    const b = await bubbles(p);
    check(b.filter((t) => t === after).length === 1 && b.filter((t) => t === more).length === 1,
      `${p.name} shows each message once: ${JSON.stringify(b)}`);
  }
  ok("each message is shown once in every tab after the handover");

  // -------------------------------------------------- sign-out and sign-in are the profile's
  await tabs[4].click("#signout");
  await allSignedOut(tabs);
  ok("a sign-out in one tab signs out every tab");
  await formSignIn(tabs[6], ana, "pw-ana-1");
  await allSignedIn(tabs, ana);
  const back = `signed in again ${suffix}`;
  await say(tomPage, back);
  await allSee(tabs, back, SHOW_MS);
  ok("a sign-in in one tab signs in every tab, and they show new messages");

  // -------------------------------------------------- a slow join in the polling tab
  // Each tab joins with the shared session, and a join moves where the
  // session's poll starts. A message sent after the other tabs' joins but
  // before the polling tab's is in no poll answer: only in that join's
  // history, which tabs.js passes on with the join.
  const leader = pollingTab(tabs);
  const others = tabs.filter((p) => p !== leader);
  let release;
  const held = new Promise((r) => { release = r; });
  await leader.route("**/api", async (route) => {
    if (isJoin(route.request())) await held;
    await route.continue();
  });
  await others[0].click("#signout");
  await allSignedOut(tabs);
  const othersJoined = Promise.all(others.map((p) => p.waitForResponse((r) => isJoin(r.request()), { timeout: 5000 })));
  await formSignIn(others[1], ana, "pw-ana-1");
  await allSignedIn(tabs, ana);
  await othersJoined;
  const between = `between the joins ${suffix}`;
  await say(tomPage, between);
  await allSee([tomPage], between, SHOW_MS);
  release();
  await allSee(tabs, between, 2000);
  await leader.unroute("**/api");
  const next = `after the slow join ${suffix}`;
  await say(tomPage, next);
  await allSee(tabs, next, SHOW_MS);
  for (const p of tabs) {
    const b = await bubbles(p);
    check(b.filter((t) => t === between).length === 1, `${p.name} shows "${between}" once: ${JSON.stringify(b)}`);
  }
  ok(`a message between the other tabs' joins and the polling tab's (${leader.name}) reaches every tab once`);

  // -------------------------------------------------- no Web Locks: a poll per tab
  const old = await browser.newContext({ locale: "en-GB", timezoneId: "UTC" });
  await old.addInitScript(() => {
    delete Navigator.prototype.locks;
  });
  const olds = [];
  for (let i = 1; i <= 3; i++) {
    const p = await newTab(old, `nolocks${i}`);
    await p.goto(BASE + "/");
    await formSignIn(p, `zoe${i}-${suffix}`, "pw-zoe-1");
    await signedInAs(p, `zoe${i}-${suffix}`, 10000);
    await until(() => p.locator("#banner").isHidden(), `${p.name} connected`, 10000);
    olds.push(p);
  }
  const fallback = `without locks ${suffix}`;
  await say(tomPage, fallback);
  await allSee(olds, fallback, 3000);
  ok("without Web Locks each tab signs in and polls for itself");

  check(problems.length === 0, `page problems: ${problems.join("; ")}`);
  ok("no page errors");
  await browser.close();
} catch (err) {
  await fail(err);
}
