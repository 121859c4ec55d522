// chat_worker.mjs - one client process of bench/chat_load.mjs (forked by it,
// driven over the IPC channel): some of the clients of one system
// (chat_systems.mjs), each sending into its room and checking everything it
// receives.
//   {cmd:"setup", cfg, clients:[idx...]}  -> {ev:"uuids", uuids:{idx:uuid}}
//   {cmd:"join", peers:{idx:uuid}}        -> {ev:"ready"} (all receiving)
//   {cmd:"go", tStart, t0, t1}            sends from tStart to t1 (the
//                                         window measured is t0..t1)
//                                         -> {ev:"stopped", senders:[...]}
//                                         once its sends are answered
//   {cmd:"finish", senders:[...]}         -> {ev:"result", ...}, exits
// Message text: "cb <sender idx> <seq> <send time ms>", seq 0, 1, ... per
// sender. Each receiver keeps a bitmap per sender: a bit seen twice is a
// duplicate; a seq below the sender's count (and not a failed send) that is
// unset at the end is missing.
// cfg: system, base, mode ("closed": WINDOW of its own messages in flight,
// a slot frees when its own copy comes back; "rate": RATE messages a second
// per client), window, rate, roomSize, clients (in all).
import { now, ours, sio } from "./chat_systems.mjs";

const TAG = "cb";
const HIST_MS = 0.1; // latency histogram bucket
let cfg, sys, clients;
const byIdx = new Map();
const errors = {};
const hist = new Map(); // bucket -> count, deliveries inside the window
let win = { t0: Infinity, t1: Infinity };
let sending = false;

const send = (m) => process.send(m);
const roomOf = (idx) => Math.floor(idx / cfg.roomSize);
function error(what) {
  errors[what] = (errors[what] || 0) + 1;
}

function receive(c, text, t) {
  const p = text.split(" ");
  if (p.length !== 4 || p[0] !== TAG) return;
  const from = Number(p[1]), seq = Number(p[2]);
  let bits = c.got.get(from);
  if (!bits || bits.length * 8 <= seq) {
    const grown = new Uint8Array(Math.max(1024, (seq >> 3) * 2 + 8));
    if (bits) grown.set(bits);
    bits = grown;
    c.got.set(from, bits);
  }
  const bit = 1 << (seq & 7);
  if (bits[seq >> 3] & bit) {
    c.dup++;
    return;
  }
  bits[seq >> 3] |= bit;
  if (t >= win.t0 && t < win.t1) {
    c.win++;
    const b = Math.round((t - Number(p[3])) / HIST_MS);
    hist.set(b, (hist.get(b) || 0) + 1);
  }
  if (from === c.idx && cfg.mode === "closed") {
    c.inflight--;
    pump(c);
  }
}

function sendOne(c) {
  const seq = c.seq++;
  const p = sys.send(c, `${TAG} ${c.idx} ${seq} ${now().toFixed(3)}`).then((ok) => {
    c.pending.delete(p);
    if (ok) return;
    c.failed.push(seq);
    // its copy will never come: the slot frees, a little later (a send
    // that fails at once must not spin)
    if (cfg.mode === "closed") setTimeout(() => {
      c.inflight--;
      pump(c);
    }, 100);
  });
  c.pending.add(p);
}

// closed loop: up to WINDOW own messages in flight
function pump(c) {
  while (sending && c.inflight < cfg.window) {
    c.inflight++;
    sendOne(c);
  }
}

// fixed rate: one every 1000/RATE ms, the clients spread over the period
function tick(c, due) {
  if (!sending) return;
  sendOne(c);
  const next = due + 1000 / cfg.rate;
  setTimeout(() => tick(c, next), Math.max(0, next - now()));
}

async function setup(m) {
  cfg = m.cfg;
  sys = (cfg.system === "sio" ? sio : ours)(cfg.base, receive, error);
  clients = m.clients.map((idx) => ({ idx, name: `cb${cfg.tag}-${idx}`, room: roomOf(idx),
    got: new Map(), dup: 0, win: 0, seq: 0, inflight: 0, failed: [], pending: new Set() }));
  for (const c of clients) byIdx.set(c.idx, c);
  const uuids = {};
  for (let i = 0; i < clients.length; i += 10)
    await Promise.all(clients.slice(i, i + 10).map(async (c) => { uuids[c.idx] = await sys.signIn(c); }));
  send({ ev: "uuids", uuids });
}

async function join(m) {
  // a private pair's peer is the other member of its room of two
  const peer = (c) => (cfg.roomSize === 2 ? m.peers[c.idx ^ 1] : "");
  for (let i = 0; i < clients.length; i += 10)
    await Promise.all(clients.slice(i, i + 10).map((c) => sys.join(c, peer(c))));
  send({ ev: "ready" });
}

function go(m) {
  win = { t0: m.t0, t1: m.t1 };
  const at = (t, f) => setTimeout(f, Math.max(0, t - now()));
  at(m.tStart, () => {
    sending = true;
    for (const c of clients) {
      if (cfg.mode === "closed") pump(c);
      else {
        const due = m.tStart + ((c.idx % cfg.clients) * 1000) / cfg.rate / cfg.clients;
        at(due, () => tick(c, due));
      }
    }
  });
  at(m.t0, () => clients.forEach((c) => (c.a = c.seq)));
  at(m.t1, async () => {
    sending = false;
    clients.forEach((c) => (c.b = c.seq));
    for (const c of clients) await Promise.all([...c.pending]);
    send({ ev: "stopped", senders: clients.map((c) => ({ idx: c.idx, n: c.seq, a: c.a, b: c.b, failed: c.failed })) });
  });
}

// what each receiver lacks of the messages its room's senders sent
function finish(m) {
  let missing = 0, dup = 0, deliveries = 0;
  const lacked = {}; // sender idx -> seqs some receiver here lacks
  for (const c of clients) {
    dup += c.dup;
    deliveries += c.win;
    for (const s of m.senders) {
      if (roomOf(s.idx) !== c.room) continue;
      const bits = c.got.get(s.idx) || new Uint8Array(0);
      const failed = new Set(s.failed);
      for (let k = 0; k < s.n; k++) {
        if (failed.has(k) || (bits[k >> 3] & (1 << (k & 7)))) continue;
        missing++;
        (lacked[s.idx] ||= new Set()).add(k);
      }
    }
  }
  const lackedOut = Object.fromEntries(Object.entries(lacked).map(([k, v]) => [k, [...v]]));
  send({ ev: "result", missing, dup, deliveries, errors, hist: [...hist.entries()], lacked: lackedOut });
  setTimeout(() => process.exit(0), 100);
}

const handlers = { setup, join, go, finish };
process.on("message", (m) => {
  Promise.resolve(handlers[m.cmd](m)).catch((e) => {
    send({ ev: "fail", error: String(e && e.stack || e) });
    setTimeout(() => process.exit(1), 100);
  });
});
// the coordinator gone (Ctrl-C, a failure): nothing left to report to
process.on("disconnect", () => process.exit(0));
