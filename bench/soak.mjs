// soak.mjs - CLIENTS chatting users in General through the front server:
// each polls with its cursor (as the web client does) and sends one message
// every CLIENTS/RATE seconds, so RATE messages a second in all, for DURATION
// seconds. Every receiver checks every message: exactly once, and each
// sender's in order. Prints messages/s, send->receive p50/p99, errors,
// duplicates, missing and out-of-order.
// Env: BASE, CLIENTS (200), RATE (20 msg/s in all), DURATION (300 s).
import { client, pct } from "./chat_client.mjs";

const BASE = process.env.BASE;
const CLIENTS = Number(process.env.CLIENTS || 200);
const RATE = Number(process.env.RATE || 20);
const DURATION = Number(process.env.DURATION || 300);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const chat = client(BASE);
const api = chat.api;
const errors = new Map(); // "status code" -> count

function error(what) {
  errors.set(what, (errors.get(what) || 0) + 1);
}

async function user(name) {
  return { ...(await chat.user(name)), name, seen: new Set(), lastSeq: new Map(), dup: 0, disorder: 0 };
}

const tag = `s${process.pid}`;
const clients = [];
for (let i = 0; i < CLIENTS; i += 20) {
  const batch = [];
  for (let j = i; j < Math.min(CLIENTS, i + 20); j++) batch.push(user(`${tag}-c${j}`));
  clients.push(...(await Promise.all(batch)));
}
const sentAt = new Map(); // text -> ms
const latencies = [];
let running = true;
let received = 0;

async function pollLoop(c) {
  const r0 = await (await fetch(`${BASE}/poll?sessionUUID=${c.s}&timeout=0`,
    { headers: { Authorization: `Bearer ${c.key}` } })).json();
  let cursor = r0.cursor;
  c.ready = true;
  while (running) {
    let res, j;
    try {
      res = await fetch(`${BASE}/poll?sessionUUID=${c.s}&timeout=25&cursor=${encodeURIComponent(cursor)}`,
        { headers: { Authorization: `Bearer ${c.key}` }, signal: AbortSignal.timeout(40000) });
      j = await res.json();
    } catch (e) {
      if (!running) return;
      error(`poll ${e.name}`);
      await sleep(1000);
      continue;
    }
    if (!res.ok) {
      error(`poll ${res.status} ${j.error && j.error.code}`);
      await sleep(1000);
      continue;
    }
    const now = Date.now();
    for (const m of j.messages) {
      if (m.type !== "channelMessage") continue;
      const text = m.channelMessage.Message;
      if (!text.startsWith(`${tag} `)) continue;
      if (c.seen.has(text)) {
        c.dup++;
        continue;
      }
      c.seen.add(text);
      received++;
      const [, from, seq] = text.split(" ");
      const n = Number(seq);
      if ((c.lastSeq.get(from) ?? -1) >= n) c.disorder++;
      c.lastSeq.set(from, n);
      const t = sentAt.get(text);
      if (t !== undefined) latencies.push(now - t);
    }
    cursor = j.cursor;
    if (j.pollAfter) await sleep(j.pollAfter);
  }
}

const loops = clients.map(pollLoop);
while (!clients.every((c) => c.ready)) await sleep(50);
await sleep(1500);

// Sends round-robin at RATE a second; a 503/429/timeout is retried with
// the same clientId (stored once), as the web client does.
const sent = [];
let seqs = 0;
async function send(c, text) {
  const clientId = crypto.randomUUID();
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      sentAt.set(text, Date.now());
      await api({ type: "channelMessage",
        channelMessage: { recipientUUID: "", message: text, clientId } }, c.key);
      sent.push(text);
      return;
    } catch (e) {
      error(`send ${e.status || e.name} ${e.code || ""}`.trim());
      await sleep(500);
    }
  }
}
const t0 = Date.now();
const pending = [];
for (let k = 0; Date.now() - t0 < DURATION * 1000; k++) {
  const c = clients[k % clients.length];
  pending.push(send(c, `${tag} ${c.name} ${seqs++}`));
  const due = t0 + ((k + 1) * 1000) / RATE;
  const wait = due - Date.now();
  if (wait > 0) await sleep(wait);
}
await Promise.all(pending);
const elapsed = (Date.now() - t0) / 1000;
await sleep(3000); // the last deliveries
running = false;

let missing = 0, dup = 0, disorder = 0;
for (const c of clients) {
  dup += c.dup;
  disorder += c.disorder;
  for (const text of sent) if (!c.seen.has(text)) missing++;
}
const errs = [...errors.entries()].map(([k, v]) => `${k}:${v}`).join(",") || "none";
console.log(`clients=${CLIENTS} sent=${sent.length} msg_per_s=${(sent.length / elapsed).toFixed(1)} ` +
  `deliveries_per_s=${(received / elapsed).toFixed(0)}`);
console.log(`latency_ms p50=${pct(latencies, 0.5)} p99=${pct(latencies, 0.99)} max=${pct(latencies, 1)}`);
console.log(`errors=${errs} duplicates=${dup} missing=${missing} out_of_order=${disorder}`);
process.exit(0);
