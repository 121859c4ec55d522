// chat_report.mjs FILE - bench/chat.sh's table from the JSON lines that
// bench/chat_load.mjs appended to FILE (one per run): each run, the median
// of each system over its runs, and ours/sio with the targets.
import { readFileSync } from "node:fs";
import os from "node:os";

const rows = readFileSync(process.argv[2], "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
const SHORT = { "chat-poller": "poller", "chat.fcgi": "fcgi" };
const CLIENT_BOUND = 85; // % of a core: a client process this busy caps its side

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}
const sum = (v) => v.reduce((a, b) => a + b, 0);
const errCount = (r) => sum(Object.values(r.errors));
const allOf = (r) => sum(Object.values(r.serverCpu)) + sum(r.clientCpu) + r.coordCpu;

// the median run of a system: each figure's median (counts summed)
function medianOf(runs) {
  const m = {};
  for (const k of ["msgsPerSec", "deliveriesPerSec", "p50", "p99", "usPerDelivery", "coordCpu", "machineCpu"])
    m[k] = median(runs.map((r) => r[k]));
  for (const k of ["dup", "missing"]) m[k] = sum(runs.map((r) => r[k]));
  m.errors = { all: sum(runs.map(errCount)) };
  m.serverCpu = {};
  for (const name of Object.keys(runs[0].serverCpu)) m.serverCpu[name] = median(runs.map((r) => r.serverCpu[name]));
  m.clientCpu = runs[0].clientCpu.map((_, i) => median(runs.map((r) => r.clientCpu[i])));
  return m;
}

const n0 = (x) => Math.round(x).toLocaleString("en-US");
const n1 = (x) => x.toFixed(1);
const n2 = (x) => x.toFixed(2);
function line(label, system, r) {
  const cpu = Object.entries(r.serverCpu).map(([k, v]) => `${SHORT[k] || k} ${n0(v)}`).join(", ");
  const busy = r.clientCpu.some((c) => c > CLIENT_BOUND) ? " !" : "";
  return [label, system, n0(r.msgsPerSec), n0(r.deliveriesPerSec), n1(r.p50), n1(r.p99), r.dup, r.missing,
    errCount(r), `${cpu} = ${n0(sum(Object.values(r.serverCpu)))}`, n2(r.usPerDelivery),
    r.clientCpu.map(n0).join(" ") + busy,
    n0(allOf(r)), n0(Math.max(0, r.machineCpu - allOf(r)))];
}

const head = ["", "system", "msg/s to all", "deliv/s", "p50 ms", "p99 ms", "dup", "miss", "err",
  "server CPU % of a core", "µs/deliv = ms/1k", "client procs CPU %", "all %", "other %"];
const table = [];
let bound = false;
for (const scen of [...new Set(rows.map((r) => r.scenario))]) {
  const mine = rows.filter((r) => r.scenario === scen);
  const d = mine[0];
  const what = d.mode === "closed"
    ? `scenario ${scen}: ${d.clients} clients in one channel, window ${d.window}, closed loop`
    : `scenario ${scen}: ${d.clients} clients in rooms of ${d.roomSize}, ${d.rate} msg/s each`;
  table.push([`${what}, ${n0(d.secs)} s measured`], head);
  for (const r of mine) {
    table.push(line(`run ${r.run}`, r.system, r));
    bound ||= r.clientCpu.some((c) => c > CLIENT_BOUND);
  }
  const med = {};
  for (const sys of ["ours", "sio"]) {
    const runs = mine.filter((r) => r.system === sys);
    if (!runs.length) continue;
    med[sys] = medianOf(runs);
    table.push(line("median", sys, med[sys]));
  }
  if (med.ours && med.sio) {
    const q = (k) => n2(med.ours[k] / med.sio[k]);
    table.push(["ours/sio", "", q("msgsPerSec"), q("deliveriesPerSec"), q("p50"), q("p99"), "", "", "",
      n2(sum(Object.values(med.ours.serverCpu)) / sum(Object.values(med.sio.serverCpu))), q("usPerDelivery"), "", "", ""]);
    table.push(mine[0].mode === "closed"
      ? ["target", "", "≥ 1.50", "", "", "≤ 1.00", "0", "0", "", "", "≤ 0.50", "", "", ""]
      : ["target", "", "", "", "", "", "0", "0", "", "", "≤ 0.50", "", "", ""]);
  }
}

const width = head.map((_, i) => Math.max(...table.filter((r) => r.length > 1).map((r) => String(r[i]).length)));
const left = new Set([0, 1, 9, 11]);
for (const r of table) {
  if (r.length === 1) {
    console.log(`${table.indexOf(r) ? "\n" : ""}${r[0]}`);
    continue;
  }
  console.log(r.map((c, i) => (left.has(i) ? String(c).padEnd(width[i]) : String(c).padStart(width[i]))).join("  ").trimEnd());
}
console.log("\nmedian rows: each figure's median over the runs; dup, miss and err summed over them.");
console.log("msg/s to all: messages sent in the window that reached every member of their room, per second.");
console.log("µs/deliv: the server processes' CPU (utime+stime) in the window per delivery in it.");
console.log(`all %: servers, client processes and the coordinator together (${os.availableParallelism()} cores: ` +
  `${100 * os.availableParallelism()} % is all there is).`);
console.log("other %: the rest of the machine's busy CPU in the window (/proc/stat): other processes, and kernel");
console.log("  work charged to none (part of loopback TCP); the two accountings differ by a few %. Well above");
console.log("  that, the run shared the machine with other work.");
if (bound) console.log(`!: a client process above ${CLIENT_BOUND} % of a core: that side may be client-bound.`);
