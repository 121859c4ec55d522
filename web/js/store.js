// store.js - pure state helpers (no DOM): which channel a message belongs
// to, a per-channel timeline deduplicated by message UUID and ordered by
// CreatedAt, jittered backoff and human times. Node can import this file
// (tests/web/unit.mjs).

export const PUBLIC = "";

// The channel key of a message as seen by user `me`: "" for General, else
// the other member of the private chat (the original client filed a
// private message under its RecipientUUID, so the recipient saw it in the
// wrong room).
export function channelOf(msg, me) {
  const r = (msg && msg.RecipientUUID) || "";
  if (r === "") return PUBLIC;
  return msg.SenderUUID === me ? r : msg.SenderUUID;
}

// RFC 3339 with up to nanoseconds -> [epoch ms of the whole second, ns].
export function timeParts(s) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(s || "");
  if (!m) {
    const t = Date.parse(s);
    return [Number.isNaN(t) ? 0 : t, 0];
  }
  const base = Date.parse(m[1] + m[3].toUpperCase());
  const ns = Number((m[2] || "").padEnd(9, "0").slice(0, 9));
  return [Number.isNaN(base) ? 0 : base, ns];
}

export function compareTimes(a, b) {
  const x = timeParts(a);
  const y = timeParts(b);
  return x[0] - y[0] || x[1] - y[1];
}

// A channel's confirmed messages: each UUID once, oldest first.
export class Timeline {
  constructor() {
    this.items = [];
    this.ids = new Set();
  }

  has(uuid) {
    return this.ids.has(uuid);
  }

  get size() {
    return this.items.length;
  }

  // Adds msg unless its UUID is known (or missing). Returns the index it
  // was inserted at, or -1 for a duplicate.
  add(msg) {
    if (!msg || typeof msg.UUID !== "string" || msg.UUID === "" || this.ids.has(msg.UUID)) return -1;
    let i = this.items.length;
    while (i > 0 && compareTimes(this.items[i - 1].CreatedAt, msg.CreatedAt) > 0) i--;
    this.items.splice(i, 0, msg);
    this.ids.add(msg.UUID);
    return i;
  }
}

// Equal-jitter exponential backoff: attempt 0 waits 0.5..1 s, doubling up to
// a 15..30 s window, so a crowd of clients does not come back in step.
export function backoffDelay(attempt, { base = 1000, cap = 30000, random = Math.random } = {}) {
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

// A short time for a message: "14:05" today, "Yesterday 14:05", "Mon 14:05"
// within a week, else "3 Mar 14:05" (with the year when it differs).
export function humanTime(iso, now = new Date(), locale = undefined) {
  const t = timeParts(iso)[0];
  const d = new Date(t);
  if (!t || Number.isNaN(d.getTime())) return { short: "", full: "" };
  const hm = d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
  const full = d.toLocaleString(locale, { dateStyle: "full", timeStyle: "medium" });
  const day0 = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((day0(now) - day0(d)) / 86400000);
  let short;
  if (days <= 0) short = hm;
  else if (days === 1) short = `Yesterday ${hm}`;
  else if (days < 7) short = `${d.toLocaleDateString(locale, { weekday: "short" })} ${hm}`;
  else {
    const opts = { day: "numeric", month: "short" };
    if (d.getFullYear() !== now.getFullYear()) opts.year = "numeric";
    short = `${d.toLocaleDateString(locale, opts)} ${hm}`;
  }
  return { short, full };
}

// UTF-8 length in bytes (the contract's limits are in bytes).
export function utf8Length(s) {
  return new TextEncoder().encode(s).length;
}

// A random (version 4) UUID. crypto.randomUUID exists only in secure
// contexts (https, localhost); getRandomValues everywhere.
export function uuid4() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
