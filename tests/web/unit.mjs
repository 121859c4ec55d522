// unit.mjs - node:test checks of web/js/store.js (the pure part of the client).
import assert from "node:assert/strict";
import { test } from "node:test";
import { PUBLIC, Timeline, backoffDelay, channelOf, compareTimes, humanTime, timeParts, utf8Length, uuid4 }
  from "../../web/js/store.js";

const ME = "11111111-1111-4111-8111-111111111111";
const BOB = "22222222-2222-4222-8222-222222222222";

test("channelOf files private messages under the other member", () => {
  assert.equal(channelOf({ SenderUUID: BOB, RecipientUUID: "" }, ME), PUBLIC);
  assert.equal(channelOf({ SenderUUID: ME, RecipientUUID: BOB }, ME), BOB);
  // the original client filed this one under RecipientUUID = me
  assert.equal(channelOf({ SenderUUID: BOB, RecipientUUID: ME }, ME), BOB);
});

test("timeParts keeps nanoseconds and offsets", () => {
  assert.deepEqual(timeParts("2026-11-28T11:05:20.984947379Z"), [Date.UTC(2026, 10, 28, 11, 5, 20), 984947379]);
  assert.deepEqual(timeParts("2026-11-28T13:05:20+02:00"), [Date.UTC(2026, 10, 28, 11, 5, 20), 0]);
  assert.ok(compareTimes("2026-11-28T11:05:20.1Z", "2026-11-28T11:05:20.09Z") > 0);
  assert.ok(compareTimes("2026-11-28T11:05:20.000000002Z", "2026-11-28T11:05:20.000000001Z") > 0);
});

test("Timeline dedupes by UUID and keeps CreatedAt order", () => {
  const tl = new Timeline();
  const m = (u, t) => ({ UUID: u, CreatedAt: `2026-11-28T11:00:0${t}Z`, Message: u });
  assert.equal(tl.add(m("b", 2)), 0);
  assert.equal(tl.add(m("c", 3)), 1);
  assert.equal(tl.add(m("a", 1)), 0); // history arriving after a push
  assert.equal(tl.add(m("b", 2)), -1); // reply and push of one message
  assert.equal(tl.add({ UUID: "", CreatedAt: "x" }), -1); // the seed's echo has no UUID
  assert.equal(tl.add(m("d", 3)), 3); // same time: arrival order
  assert.deepEqual(tl.items.map((x) => x.UUID), ["a", "b", "c", "d"]);
});

test("backoffDelay doubles with jitter and a cap", () => {
  assert.equal(backoffDelay(0, { random: () => 0 }), 500);
  assert.equal(backoffDelay(0, { random: () => 1 }), 1000);
  assert.equal(backoffDelay(3, { random: () => 0 }), 4000);
  assert.equal(backoffDelay(50, { random: () => 1 }), 30000);
  assert.equal(backoffDelay(50, { random: () => 0 }), 15000);
});

test("humanTime says today, yesterday, weekday, date", () => {
  const now = new Date(2026, 10, 28, 15, 0, 0);
  const at = (d, h) => new Date(2026, 10, d, h, 5, 0).toISOString();
  assert.match(humanTime(at(28, 9), now, "en-GB").short, /^09:05$/);
  assert.match(humanTime(at(27, 9), now, "en-GB").short, /^Yesterday 09:05$/);
  assert.match(humanTime(at(24, 9), now, "en-GB").short, /^Tue 09:05$/);
  assert.match(humanTime(at(2, 9), now, "en-GB").short, /^2 Nov 09:05$/);
  assert.equal(humanTime("garbage", now).short, "");
});

test("utf8Length counts bytes", () => {
  assert.equal(utf8Length("héllo"), 6);
  assert.equal(utf8Length("😀"), 4);
});

test("uuid4 is a lowercase version 4 UUID, a new one each call", () => {
  const a = uuid4();
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(a, uuid4());
});

test("unread: the server's counts, a notice counted once, stale answers dropped, the title", async () => {
  const { UnreadCounts, badgeText, noticeSender, pageTitle } = await import("../../web/js/unread.js");
  const notice = (from, to, id) => ({ type: "sys", userUUID: from, user: { UUID: from, Username: "bob" },
    sys: { type: "channelMessage", channelMessage: { recipientUUID: to, UUID: id } } });
  assert.equal(noticeSender(notice(BOB, ME, "m1"), ME), BOB);
  assert.equal(noticeSender(notice(ME, BOB, "m1"), ME), null); // my own
  assert.equal(noticeSender(notice(BOB, "33333333-3333-4333-8333-333333333333", "m1"), ME), null);
  assert.equal(noticeSender({ type: "sys", sys: { type: "signIn", signIn: {} } }, ME), null);
  const u = new UnreadCounts();
  const gen = u.gen;
  assert.ok(u.load({ unread: { total: 3, channels: [{ recipientUUID: "", count: 2 },
    { recipientUUID: BOB, count: 1 }, { recipientUUID: "x", count: 0 }] } }, gen));
  assert.equal(u.get(PUBLIC), 2);
  assert.equal(u.get(BOB), 1);
  assert.equal(u.total(), 3);
  assert.equal(u.total([PUBLIC]), 1); // the channel shown is read
  assert.ok(u.fresh("m1"));
  assert.ok(!u.fresh("m1")); // a repeat
  const asked = u.gen;
  u.bump(BOB);
  assert.equal(u.get(BOB), 2);
  assert.ok(!u.load({ unread: { channels: [] } }, asked)); // asked before the notice
  assert.equal(u.get(BOB), 2);
  assert.ok(u.clear(BOB));
  assert.equal(u.total(), 2);
  assert.equal(pageTitle(0), "Redis chat");
  assert.equal(pageTitle(3), "(3) Redis chat");
  assert.equal(pageTitle(5000), "(999+) Redis chat");
  assert.equal(badgeText(7), "7");
  assert.equal(badgeText(100), "99+");
});
