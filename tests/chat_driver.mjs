// chat_driver.mjs - a small live chat for tests/failover.bats and
// tests/hosts.bats: USERS users in General, each receiving through a
// long-poll or an SSE stream (MODES, in turn), each sending one message
// every INTERVAL ms (one in flight, retried with the same clientId after a
// 503 or a network error until acknowledged, as the web client does).
// Every request of a user goes to the next of BASES in turn (a client
// alternating between hosts); a network error moves on to the next one.
//
// Control through files in DIR: it writes DIR/driver.ready once every
// receiver is in place, DIR/driver.acked (the count, as it grows), and on
// DIR/driver.stop it stops sending, waits up to DRAIN s for every
// acknowledged message to arrive, writes DIR/driver.json and exits 0.
// Report: acked, unacked (given up), per receiver received / duplicates /
// missing (acknowledged, never received) / resets / cursor errors, the
// longest gap between two acknowledgements and the longest delay from an
// acknowledgement to the last receiver (the chat "going on").
import { existsSync, writeFileSync } from "node:fs";

const BASES = process.env.BASES.split(",");
const DIR = process.env.DIR;
const USERS = Number(process.env.USERS || 3);
const MODES = (process.env.MODES || "poll,sse").split(",");
const INTERVAL = Number(process.env.INTERVAL || 150);
const DRAIN = Number(process.env.DRAIN || 10);
const tag = `t${process.pid}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const errors = {};
const err = (what) => { errors[what] = (errors[what] || 0) + 1; };
let running = true; // receivers
let sending = true;

// req(u, path, init): fetch on the user's next base; network errors move
// on to the next base and are returned as {net: name}.
async function req(u, path, init = {}) {
  const base = BASES[u.turn++ % BASES.length];
  try {
    return await fetch(base + path, init);
  } catch (e) {
    return { net: e.cause?.code || e.name };
  }
}

async function api(u, body) {
  for (;;) {
    const headers = { "Content-Type": "application/json" };
    if (u.key) headers.Authorization = `Bearer ${u.key}`;
    const res = await req(u, "/api", { method: "POST", headers, body: JSON.stringify(body),
      signal: AbortSignal.timeout(15000) });
    if (res.net) { err(`api net ${res.net}`); await sleep(100); continue; }
    const j = await res.json().catch(() => ({}));
    if (res.ok) return j;
    err(`api ${res.status} ${j.error?.code}`);
    if (res.status !== 503 && res.status !== 502 && res.status !== 504)
      throw new Error(`${body.type}: ${res.status} ${JSON.stringify(j)}`);
    await sleep(Math.min(1000, 1000 * Number(res.headers.get("retry-after") || 1)));
  }
}

async function makeUser(i) {
  const u = { name: `${tag}-u${i}`, mode: MODES[i % MODES.length], turn: i, seen: new Map(),
    resets: 0, cursorErrors: 0, ready: false };
  u.s = (await api(u, { type: "ready" })).ready.sessionUUID;
  u.key = (await api(u, { type: "signIn", sessionUUID: u.s,
    signIn: { username: u.name, password: "pw" } })).authorized.accessKey;
  await api(u, { type: "channelJoin", sessionUUID: u.s, channelJoin: { recipientUUID: "" } });
  return u;
}

function took(u, m) {
  if (m.type !== "channelMessage") return;
  const text = m.channelMessage.Message;
  if (!text.startsWith(`${tag} `)) return;
  const r = u.seen.get(text);
  if (r) r.n++;
  else u.seen.set(text, { n: 1, at: Date.now() });
}

// A poll answer or SSE batch outside the contract: a cursor the server no
// longer accepts must never happen (it answers reset instead).
function badStatus(u, status, code) {
  if (status === 400) u.cursorErrors++;
  err(`${u.mode} ${status} ${code}`);
}

async function pollLoop(u) {
  let cursor = "";
  const auth = { Authorization: `Bearer ${u.key}` };
  while (running) {
    const t = u.ready ? 10 : 0;
    const res = await req(u, `/poll?sessionUUID=${u.s}&timeout=${t}&cursor=${encodeURIComponent(cursor)}`,
      { headers: auth, signal: AbortSignal.timeout(30000) });
    if (res.net) { err(`poll net ${res.net}`); await sleep(100); continue; }
    const j = await res.json().catch(() => ({}));
    if (!res.ok) {
      badStatus(u, res.status, j.error?.code);
      await sleep(Math.min(1000, 1000 * Number(res.headers.get("retry-after") || 1)));
      continue;
    }
    if (j.reset) u.resets++;
    for (const m of j.messages) took(u, m);
    cursor = j.cursor;
    u.ready = true;
    if (j.pollAfter) await sleep(j.pollAfter);
  }
}

// One SSE stream after another, each resumed with Last-Event-ID.
async function sseLoop(u) {
  let last = "";
  while (running) {
    const headers = {};
    if (last) headers["Last-Event-ID"] = last;
    const ctl = new AbortController();
    u.abort = () => ctl.abort();
    const res = await req(u, `/events?sessionUUID=${u.s}&accessKey=${u.key}`,
      { headers, signal: ctl.signal });
    if (res.net) { err(`sse net ${res.net}`); await sleep(100); continue; }
    if (!res.ok) {
      const j = await res.json().catch(() => ({}));
      badStatus(u, res.status, j.error?.code);
      await sleep(Math.min(1000, 1000 * Number(res.headers.get("retry-after") || 1)));
      continue;
    }
    u.ready = true;
    let buf = "", ev = "", data = "";
    try {
      const dec = new TextDecoder();
      for await (const chunk of res.body) {
        buf += dec.decode(chunk, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line === "") {
            if (ev === "reset") u.resets++;
            else if (data) took(u, JSON.parse(data));
            ev = ""; data = "";
          } else if (line.startsWith("id: ")) last = line.slice(4);
          else if (line.startsWith("event: ")) ev = line.slice(7);
          else if (line.startsWith("data: ")) data = line.slice(6);
        }
      }
      err("sse ended");
    } catch (e) {
      if (running) err(`sse ${e.name}`);
    }
  }
}

const acked = []; // {text, at}
let unacked = 0;
async function sendLoop(u) {
  for (let seq = 0; sending; seq++) {
    const text = `${tag} ${u.name} ${seq}`;
    const clientId = crypto.randomUUID();
    const t0 = Date.now();
    for (;;) {
      const res = await req(u, "/api", { method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${u.key}` },
        body: JSON.stringify({ type: "channelMessage",
          channelMessage: { recipientUUID: "", message: text, clientId } }),
        signal: AbortSignal.timeout(15000) });
      if (!res.net && res.ok) {
        acked.push({ text, at: Date.now() });
        writeFileSync(`${DIR}/driver.acked`, String(acked.length));
        break;
      }
      if (res.net) err(`send net ${res.net}`);
      else {
        const j = await res.json().catch(() => ({}));
        err(`send ${res.status} ${j.error?.code}`);
      }
      if (Date.now() - t0 > 30000) { unacked++; break; }
      const ra = res.net ? 0.1 : Number(res.headers.get("retry-after") || 1);
      await sleep(Math.min(1000, 1000 * ra));
    }
    await sleep(INTERVAL);
  }
}

const users = [];
for (let i = 0; i < USERS; i++) users.push(await makeUser(i));
const recv = users.map((u) => (u.mode === "sse" ? sseLoop(u) : pollLoop(u)));
while (!users.every((u) => u.ready)) await sleep(50);
await sleep(300);
writeFileSync(`${DIR}/driver.ready`, "1");
const sends = users.map(sendLoop);
while (!existsSync(`${DIR}/driver.stop`)) await sleep(100);
sending = false;
await Promise.all(sends);
const drainEnd = Date.now() + DRAIN * 1000;
while (Date.now() < drainEnd && !users.every((u) => acked.every((a) => u.seen.has(a.text))))
  await sleep(100);
running = false;
for (const u of users) if (u.abort) u.abort();

let maxAckGap = 0, maxDelivery = 0;
const order = [...acked].sort((a, b) => a.at - b.at);
for (let i = 1; i < order.length; i++) maxAckGap = Math.max(maxAckGap, order[i].at - order[i - 1].at);
for (const a of acked) {
  for (const u of users) {
    const r = u.seen.get(a.text);
    if (r) maxDelivery = Math.max(maxDelivery, r.at - a.at);
  }
}
const report = {
  acked: acked.length, unacked, maxAckGapMs: maxAckGap, maxDeliveryMs: maxDelivery, errors,
  receivers: users.map((u) => {
    const missing = acked.filter((a) => !u.seen.has(a.text)).map((a) => a.text);
    return { name: u.name, mode: u.mode, received: u.seen.size,
      duplicates: [...u.seen.values()].filter((r) => r.n > 1).length,
      missing: missing.length, missingFirst: missing.slice(0, 5),
      resets: u.resets, cursorErrors: u.cursorErrors };
  }),
};
writeFileSync(`${DIR}/driver.json`, JSON.stringify(report, null, 1));
process.exit(0);
