// chat_load.mjs - one run of bench/chat.sh against one system: forks
// CLIENT_PROCS client processes (bench/chat_worker.mjs), CLIENTS clients
// spread over them, rooms of ROOM_SIZE clients; they send from the start,
// WARMUP s later the DURATION s window measured begins; after it they stop
// sending, DRAIN s later every receiver reports. The CPU of each server
// process (/proc/<pid>/stat utime+stime), of each client process and of
// this one is taken at the window's edges. Appends one JSON line to OUT and
// prints one summary line.
// Env: SYSTEM (ours|sio), BASE (its URL), MODE (closed|rate), CLIENTS,
// WINDOW, RATE (per client, MODE=rate), ROOM_SIZE, DURATION, WARMUP, DRAIN,
// CLIENT_PROCS, SERVERS ("name:pid ..."), CLK_TCK, SCENARIO, RUN, OUT.
import { fork } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { now } from "./chat_systems.mjs";

const env = process.env;
const num = (k, d) => Number(env[k] ?? d);
const cfg = {
  system: env.SYSTEM, base: env.BASE, mode: env.MODE || "closed", clients: num("CLIENTS", 20),
  window: num("WINDOW", 8), rate: num("RATE", 1), roomSize: num("ROOM_SIZE", num("CLIENTS", 20)),
  tag: `${process.pid}`,
};
const DURATION = num("DURATION", 10), WARMUP = num("WARMUP", 2), DRAIN = num("DRAIN", 2);
const PROCS = Math.min(num("CLIENT_PROCS", 4), cfg.clients);
const TCK = num("CLK_TCK", 100);
const servers = (env.SERVERS || "").split(/\s+/).filter(Boolean).map((s) => {
  const [name, pid] = s.split(":");
  return { name, pid: Number(pid) };
});
const HIST_MS = 0.1; // chat_worker.mjs's latency bucket
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// seconds of CPU a process has used (all its threads)
function cpuOf(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8");
  const p = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return (Number(p[11]) + Number(p[12])) / TCK;
}

// seconds of CPU the whole machine has been busy (all cores; /proc/stat)
function machineCpu() {
  const p = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal
  return (p[1] + p[2] + p[3] + p[6] + p[7] + p[8]) / TCK;
}

const workers = [];
for (let w = 0; w < PROCS; w++) {
  const child = fork(new URL("./chat_worker.mjs", import.meta.url), [], { stdio: "inherit" });
  const ids = [];
  for (let i = w; i < cfg.clients; i += PROCS) ids.push(i);
  workers.push({ child, ids, inbox: [], waiting: null });
}
let failed = null;
function fail(why) {
  if (failed) return;
  failed = why;
  for (const w of workers) if (w.waiting) w.waiting.reject(new Error(why));
}
for (const [n, w] of workers.entries()) {
  w.child.on("message", (m) => {
    if (m.ev === "fail") return fail(`client process ${n}: ${m.error}`);
    if (w.waiting) {
      const r = w.waiting;
      w.waiting = null;
      r.resolve(m);
    } else w.inbox.push(m);
  });
  w.child.on("exit", (code) => { if (code) fail(`client process ${n} exited with ${code}`); });
}
const stopAll = () => workers.forEach((w) => w.child.kill());
// stops the client processes and waits (up to 2 s) for them: none is left
async function quit(code) {
  const alive = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
  const gone = alive.map((w) => new Promise((r) => w.child.once("exit", r)));
  stopAll();
  await Promise.race([Promise.all(gone), sleep(2000)]);
  process.exit(code);
}
process.on("SIGTERM", () => quit(143));
process.on("SIGINT", () => quit(130));

// the next message of each worker, which must be EV
function collect(ev) {
  return Promise.all(workers.map((w) => new Promise((resolve, reject) => {
    if (failed) return reject(new Error(failed));
    if (w.inbox.length) return resolve(w.inbox.shift());
    w.waiting = { resolve, reject };
  }).then((m) => {
    if (m.ev !== ev) throw new Error(`expected ${ev}, got ${m.ev}`);
    return m;
  })));
}
const tell = (m) => workers.forEach((w) => w.child.send(m));
const sample = () => ({
  t: now(), self: process.cpuUsage(), machine: machineCpu(),
  servers: servers.map((s) => cpuOf(s.pid)), clients: workers.map((w) => cpuOf(w.child.pid)),
});

try {
  workers.forEach((w) => w.child.send({ cmd: "setup", cfg, clients: w.ids }));
  const peers = Object.assign({}, ...(await collect("uuids")).map((m) => m.uuids));
  tell({ cmd: "join", peers });
  await collect("ready");
  const tStart = now() + 200, t0 = tStart + WARMUP * 1000, t1 = t0 + DURATION * 1000;
  tell({ cmd: "go", tStart, t0, t1 });
  await sleep(t0 - now());
  const c0 = sample();
  await sleep(t1 - now());
  const c1 = sample();
  const senders = (await collect("stopped")).flatMap((m) => m.senders);
  await sleep(DRAIN * 1000);
  tell({ cmd: "finish", senders });
  const results = await collect("result");
  const secs = (c1.t - c0.t) / 1000;
  const r = summarize(results, senders, c0, c1, secs);
  const f = (x) => x.toFixed(0);
  console.log(`${cfg.system}: ${f(r.msgsPerSec)} msg/s to all, p50 ${r.p50.toFixed(1)} p99 ${r.p99.toFixed(1)} ms, ` +
    `dup ${r.dup} missing ${r.missing}, ${r.usPerDelivery.toFixed(2)} µs server CPU/delivery, ` +
    `clients ${r.clientCpu.map(f).join("/")} %`);
  process.exit(0);
} catch (e) {
  console.error(`chat_load: ${e.message}`);
  await quit(1);
}

function summarize(results, senders, c0, c1, secs) {
  // messages sent inside the window that every receiver of their room got
  const lacked = new Map();
  for (const r of results)
    for (const [s, seqs] of Object.entries(r.lacked)) {
      const set = lacked.get(Number(s)) || new Set();
      seqs.forEach((k) => set.add(k));
      lacked.set(Number(s), set);
    }
  let complete = 0, sentWin = 0, sent = 0;
  for (const s of senders) {
    const failedSeqs = new Set(s.failed);
    sent += s.n - s.failed.length;
    for (let k = s.a; k < s.b; k++) {
      if (failedSeqs.has(k)) continue;
      sentWin++;
      if (!(lacked.get(s.idx) || new Set()).has(k)) complete++;
    }
  }
  const hist = new Map();
  for (const r of results) for (const [b, n] of r.hist) hist.set(b, (hist.get(b) || 0) + n);
  const errors = {};
  for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] || 0) + v;
  const deliveries = results.reduce((a, r) => a + r.deliveries, 0);
  const serverCpu = Object.fromEntries(servers.map((s, i) => [s.name, (100 * (c1.servers[i] - c0.servers[i])) / secs]));
  const serverSecs = servers.reduce((a, s, i) => a + c1.servers[i] - c0.servers[i], 0);
  const selfSecs = (c1.self.user + c1.self.system - c0.self.user - c0.self.system) / 1e6;
  const out = {
    scenario: env.SCENARIO, run: Number(env.RUN || 1), system: cfg.system, clients: cfg.clients,
    roomSize: cfg.roomSize, mode: cfg.mode, window: cfg.window, rate: cfg.rate, secs,
    msgsPerSec: complete / secs, sentPerSec: sentWin / secs, deliveriesPerSec: deliveries / secs,
    sent, p50: pctHist(hist, 0.5), p99: pctHist(hist, 0.99), dup: results.reduce((a, r) => a + r.dup, 0),
    missing: results.reduce((a, r) => a + r.missing, 0), errors, serverCpu,
    clientCpu: workers.map((w, i) => (100 * (c1.clients[i] - c0.clients[i])) / secs),
    coordCpu: (100 * selfSecs) / secs, machineCpu: (100 * (c1.machine - c0.machine)) / secs, usPerDelivery: deliveries ? (serverSecs * 1e6) / deliveries : NaN,
  };
  if (env.OUT) appendFileSync(env.OUT, `${JSON.stringify(out)}\n`);
  return out;
}

// the p-quantile (0..1) of the latency histogram, in ms
function pctHist(hist, p) {
  const keys = [...hist.keys()].sort((x, y) => x - y);
  const total = keys.reduce((a, k) => a + hist.get(k), 0);
  let seen = 0;
  for (const k of keys) {
    seen += hist.get(k);
    if (seen > p * total) return k * HIST_MS;
  }
  return NaN;
}
