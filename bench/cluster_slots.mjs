// cluster_slots.mjs - reads Redis MONITOR output on stdin and prints, for
// each script run (EVALSHA/EVAL), the keys it touched and in how many
// Redis Cluster hash slots they lie (CRC16 mod 16384, hash tags honoured):
// what a Cluster mode would have to bring into one slot. Used by
// bench/cluster_slots.sh.
import { createInterface } from "node:readline";

// CRC16-CCITT (XModem), as Redis Cluster computes key slots.
function crc16(buf) {
  let crc = 0;
  for (const b of buf) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}
function slot(key) {
  const s = key.indexOf("{");
  if (s >= 0) {
    const e = key.indexOf("}", s + 1);
    if (e > s + 1) key = key.slice(s + 1, e);
  }
  return crc16(Buffer.from(key, "latin1")) % 16384;
}
// the key arguments of a command inside a script (argv without the name)
function keysOf(cmd, args) {
  switch (cmd) {
    case "PUBLISH": case "TIME": case "PING": return [];
    case "XINFO": return args.slice(1, 2);
    case "MGET": case "DEL": case "EXISTS": case "UNLINK": return args;
    default: return args.slice(0, 1);
  }
}
// MONITOR line: <time> [<db> <client>] "ARG" "ARG" ...
function parse(line) {
  const m = line.match(/^\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$/);
  if (!m) return null;
  const args = [...m[2].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((a) => a[1].replace(/\\(.)/g, "$1"));
  return { lua: m[1] === "lua", cmd: args[0].toUpperCase(), args: args.slice(1) };
}
// a key's shape: ids replaced, so that runs of one operation group together
const shape = (k) => k.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<uuid>")
  .replace(/\b[0-9a-f]{32}\b/g, "<md5>").replace(/\b[0-9a-f]{40,}\b/g, "<key>")
  .replace(/\.[0-9a-zA-Z_-]{16,}$/, ".<id>");

const runs = new Map(); // shape of the key set -> {n, keys, slots}
let cur = null;
function flush() {
  if (!cur || !cur.keys.size) return;
  const keys = [...cur.keys];
  const sig = [...new Set(keys.map(shape))].sort().join(" ");
  const r = runs.get(sig) || { n: 0, keys: sig.split(" "), slots: 0, names: new Set() };
  r.n++;
  r.slots = Math.max(r.slots, new Set(keys.map(slot)).size);
  r.names.add(cur.name);
  runs.set(sig, r);
}
for await (const line of createInterface({ input: process.stdin })) {
  const c = parse(line);
  if (!c) continue;
  if (!c.lua) {
    flush();
    cur = c.cmd === "EVALSHA" || c.cmd === "EVAL" ? { name: c.cmd, keys: new Set() } : null;
    continue;
  }
  if (cur) for (const k of keysOf(c.cmd, c.args)) cur.keys.add(k);
}
flush();
const out = [...runs.values()].sort((a, b) => b.slots - a.slots);
console.log("| keys touched by one script run (ids elided) | runs | hash slots |");
console.log("|---|---:|---:|");
for (const r of out) console.log(`| ${r.keys.map((k) => "`" + k + "`").join(" ")} | ${r.n} | ${r.slots} |`);
