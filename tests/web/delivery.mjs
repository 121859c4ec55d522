// delivery.mjs - node:test checks of web/js/api.js and web/js/delivery.js
// against a scripted fetch: error words, Retry-After, and the poll loop's
// reactions (cursor passing, backoff, 404 -> new session, 401 -> stop).
import assert from "node:assert/strict";
import { test } from "node:test";

globalThis.CHAT_BASE = "http://chat.test/app/";
const { ApiError, post, retryAfterMs } = await import("../../web/js/api.js");
const { Poller } = await import("../../web/js/delivery.js");

function reply(status, body, headers = {}) {
  return new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers });
}

function script(steps) {
  const seen = [];
  globalThis.fetch = async (url, init) => {
    seen.push({ url: String(url), init });
    const next = steps.shift();
    if (!next) { // hang like a held poll, until cancelled
      return new Promise((_, reject) => init.signal.addEventListener("abort",
        () => reject(new DOMException("aborted", "AbortError")), { once: true }));
    }
    if (next instanceof Error) throw next;
    return next;
  };
  return seen;
}

test("retryAfterMs reads seconds and dates", () => {
  assert.equal(retryAfterMs("3"), 3000);
  assert.equal(retryAfterMs(null), 0);
  assert.equal(retryAfterMs(new Date(10000).toUTCString(), 4000), 6000);
});

test("post: relative URL, Bearer header, server words, statuses", async () => {
  const seen = script([
    reply(200, { type: "users", users: { users: [] } }),
    reply(401, { type: "error", error: { code: 4, error: "wrong password", message: "wrong password" } }),
    reply(503, "<html>busy</html>", { "Retry-After": "2" }),
    new TypeError("Failed to fetch"),
  ]);
  const r = await post({ type: "users" }, "K");
  assert.equal(r.type, "users");
  assert.equal(seen[0].url, "http://chat.test/app/api");
  assert.equal(seen[0].init.headers.Authorization, "Bearer K");
  await assert.rejects(post({ type: "signIn" }), (e) => e instanceof ApiError && e.status === 401 &&
    e.code === 4 && e.message === "wrong password");
  await assert.rejects(post({ type: "users" }, "K"), (e) => e.status === 503 && e.retryAfterMs === 2000 &&
    /unavailable/.test(e.message));
  await assert.rejects(post({ type: "users" }, "K"), (e) => e.status === 0 && /reach/.test(e.message));
});

function poller(overrides = {}) {
  const log = [];
  let cursor = null;
  const p = new Poller({
    auth: () => ({ session: "S", key: "K" }),
    cursor: () => cursor,
    badCursor: () => { cursor = null; log.push("badCursor"); },
    batch: (r) => { cursor = r.cursor; log.push(`batch:${r.messages.length}`); },
    expired: async () => { log.push("expired"); },
    unauthorized: () => log.push("unauthorized"),
    status: (s, info) => log.push(info && info.delayMs ? `${s}:${info.delayMs >= 1000 ? "waits" : "short"}` : s),
    ...overrides,
  });
  return { p, log };
}

const until = async (fn) => {
  for (let i = 0; i < 200 && !fn(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(fn());
};

test("poll loop: cursor passed back, 503 waits Retry-After, 404 renews, 401 stops", async () => {
  const seen = script([
    reply(200, { cursor: "c1", messages: [{ type: "sys" }] }),
    reply(200, { cursor: "c2", messages: [{ type: "sys" }, { type: "sys" }] }),
    reply(503, { type: "error", error: { code: 221, error: "x", message: "storage unavailable" } }, { "Retry-After": "1" }),
    reply(404, { type: "error", error: { code: 213, error: "y", message: "unknown or expired session" } }),
    reply(200, { cursor: "c3", messages: [{ type: "sys" }] }),
    reply(401, { type: "error", error: { code: 209, error: "z", message: "unknown key" } }),
  ]);
  const { p, log } = poller();
  p.start();
  await until(() => log.includes("unauthorized"));
  p.stop();
  const urls = seen.map((s) => new URL(s.url));
  assert.equal(urls[0].pathname, "/app/poll");
  assert.equal(urls[0].searchParams.get("cursor"), null);
  assert.equal(urls[0].searchParams.get("timeout"), "0"); // a quick first poll shows we are online
  assert.equal(urls[1].searchParams.get("cursor"), "c1");
  assert.equal(urls[1].searchParams.get("timeout"), "25");
  assert.equal(urls[2].searchParams.get("cursor"), "c2");
  assert.equal(seen[0].init.headers.Authorization, "Bearer K");
  assert.deepEqual(log, ["connecting", "online", "batch:1", "batch:2", "unavailable:waits", "connecting",
    "expired", "online", "batch:1", "unauthorized"]);
});

test("poll loop: network failures back off, then recover", async () => {
  script([new TypeError("Failed to fetch"), reply(200, { cursor: "c1", messages: [{ type: "sys" }] })]);
  const { p, log } = poller();
  p.start();
  await until(() => log.includes("batch:1"));
  p.stop();
  assert.deepEqual(log.slice(0, 4), ["connecting", "offline:short", "connecting", "online"]);
});

test("poll loop: a foreign cursor is dropped", async () => {
  script([reply(400, { type: "error", error: { code: 207, error: "c", message: "invalid cursor" } }),
    reply(200, { cursor: "c1", messages: [{ type: "sys" }] })]);
  const { p, log } = poller();
  p.start();
  await until(() => log.includes("batch:1"));
  p.stop();
  assert.ok(log.includes("badCursor"));
});

test("poll loop: revive() restarts a poll stuck on a dead connection", async () => {
  const seen = script([reply(200, { cursor: "c1", messages: [{ type: "sys" }] })]); // then hangs
  const { p, log } = poller();
  p.start();
  await until(() => seen.length === 2); // the second poll hangs
  p.revive(); // recent: nothing to do
  assert.equal(seen.length, 2);
  p.lastAnswer = Date.now() - 60000;
  p.revive();
  await until(() => seen.length === 3);
  assert.equal(new URL(seen[2].url).searchParams.get("cursor"), "c1");
  assert.equal(new URL(seen[2].url).searchParams.get("timeout"), "0");
  assert.ok(seen[1].init.signal.aborted, "the stuck request was cancelled");
  p.stop();
  assert.ok(log.includes("batch:1"));
});
