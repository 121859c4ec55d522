// fcgi_polls.mjs - CLIENTS users poll one channel (as the web client does:
// with their cursor, waiting pollAfter when the server says so) while one
// more user POSTs a message every INTERVAL ms for SECONDS. Prints POST
// latency (p50/p99/max), delivery latency from the POST to each poller
// (p50/p99/max), and duplicates/missing over every (poller, message).
// Env: BASE, CLIENTS (20), DURATION (20), INTERVAL (250), TIMEOUT (25).
import { client, pct } from "./chat_client.mjs";

const BASE = process.env.BASE;
const CLIENTS = Number(process.env.CLIENTS || 20);
const DURATION = Number(process.env.DURATION || 20);
const INTERVAL = Number(process.env.INTERVAL || 250);
const TIMEOUT = Number(process.env.TIMEOUT || 25);
const { api, user } = client(BASE);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const tag = `b${process.pid}`;
const pollers = [];
for (let i = 0; i < CLIENTS; i++) pollers.push({ ...(await user(`${tag}-p${i}`)), seen: new Map(), dup: 0, polls: 0 });
const sender = await user(`${tag}-sender`);
let running = true;

async function pollLoop(p) {
  const r0 = await (await fetch(`${BASE}/poll?sessionUUID=${p.s}&timeout=0`, { headers: { Authorization: `Bearer ${p.key}` } })).json();
  let cursor = r0.cursor;
  p.ready = true; // messages sent from now on are after this cursor
  while (running) {
    const res = await fetch(`${BASE}/poll?sessionUUID=${p.s}&timeout=${TIMEOUT}&cursor=${encodeURIComponent(cursor)}`,
      { headers: { Authorization: `Bearer ${p.key}` } });
    const j = await res.json();
    p.polls++;
    if (!res.ok) { await sleep(1000); continue; }
    const now = Date.now();
    for (const m of j.messages) {
      if (m.type !== "channelMessage") continue;
      const text = m.channelMessage.Message;
      if (!text.startsWith(`${tag} `)) continue;
      if (p.seen.has(text)) p.dup++;
      else p.seen.set(text, now);
    }
    cursor = j.cursor;
    if (j.pollAfter > 0) await sleep(j.pollAfter);
  }
}

const loops = pollers.map(pollLoop);
// Every poller has its first cursor (a front server that starts its
// workers on demand, as mod_fcgid, may take seconds for the first 20
// polls: a message sent before a poller's first cursor is not one it waits
// for), then every poller is parked or waiting.
const t0ready = Date.now();
while (pollers.some((p) => !p.ready) && Date.now() - t0ready < 30000) await sleep(50);
const readyMs = Date.now() - t0ready;
await sleep(1500);
const sent = new Map();
const postMs = [];
let postFailed = 0;
const end = Date.now() + DURATION * 1000;
for (let n = 0; Date.now() < end; n++) {
  const text = `${tag} ${n}`;
  const t0 = Date.now();
  try {
    await api({ type: "channelMessage", channelMessage: { recipientUUID: "", message: text } }, sender.key);
    sent.set(text, t0);
  } catch (err) {
    postFailed++; // not acknowledged (timed out): not counted as sent
  }
  postMs.push(Date.now() - t0);
  const wait = t0 + INTERVAL - Date.now();
  if (wait > 0) await sleep(wait);
}
await sleep(3000); // the last messages arrive
running = false;
const deliver = [];
let missing = 0, dup = 0, polls = 0;
for (const p of pollers) {
  dup += p.dup;
  polls += p.polls;
  for (const [text, t0] of sent) {
    const t = p.seen.get(text);
    if (t === undefined) missing++;
    else deliver.push(t - t0);
  }
}
console.log(`clients=${CLIENTS} messages=${sent.size} polls=${polls} first_cursors_ms=${readyMs}`);
console.log(`post_ms p50=${pct(postMs, 0.5)} p99=${pct(postMs, 0.99)} max=${Math.max(...postMs)} failed=${postFailed}`);
console.log(`deliver_ms p50=${pct(deliver, 0.5)} p99=${pct(deliver, 0.99)} max=${Math.max(...deliver)}`);
console.log(`duplicates=${dup} missing=${missing}`);
process.exit(0); // parked polls are left to their timeout
