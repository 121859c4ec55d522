// unread.js - the unread counts of the channel list (docs/web.md "Unread"):
// the server's counts (the `unread` request), a private message's notice
// (the sys/channelMessage push) counted at once, and the page title with
// the total. No DOM: node imports this file (tests/web/unit.mjs).
import { PUBLIC } from "./store.js";

export const BASE_TITLE = "Redis chat";
const SEEN_MAX = 500; // notice UUIDs remembered against a repeat

// The sender of a notice addressed to me, or null when o is not one: the
// notice names the channel as its sender did (recipientUUID = me), so the
// channel to mark is the sender's.
export function noticeSender(o, me) {
  if (!o || o.type !== "sys" || !o.sys || o.sys.type !== "channelMessage") return null;
  const n = o.sys.channelMessage;
  if (!n || typeof o.userUUID !== "string" || o.userUUID === "" || o.userUUID === me) return null;
  if (typeof n.recipientUUID === "string" && n.recipientUUID !== "" && n.recipientUUID !== me) return null;
  return o.userUUID;
}

export function pageTitle(total) {
  return total > 0 ? `(${total > 999 ? "999+" : total}) ${BASE_TITLE}` : BASE_TITLE;
}

// A badge's text: the count, or "99+".
export function badgeText(n) {
  return n > 99 ? "99+" : String(n);
}

export class UnreadCounts {
  constructor() {
    this.counts = new Map(); // channel ("" = General, else the other user) -> n
    this.seen = new Set();
    this.gen = 0; // +1 at each notice: a server answer asked for before it is stale
  }

  get(ch) {
    return this.counts.get(ch) || 0;
  }

  // The server's `unread` reply, asked for at generation gen: it replaces
  // every count, unless a notice came after the question (a newer answer
  // is on its way). Returns whether it was taken.
  load(reply, gen) {
    if (gen !== this.gen) return false;
    const next = new Map();
    const list = reply && reply.unread && Array.isArray(reply.unread.channels) ? reply.unread.channels : [];
    for (const c of list) {
      if (!c || typeof c.recipientUUID !== "string" || !Number.isInteger(c.count) || c.count <= 0) continue;
      next.set(c.recipientUUID === "" ? PUBLIC : c.recipientUUID, c.count);
    }
    this.counts = next;
    return true;
  }

  // Whether the notice of message id is new (it is remembered: a repeat,
  // say after a change of the polling tab, is not counted twice).
  fresh(id) {
    if (typeof id !== "string" || id === "" || this.seen.has(id)) return false;
    this.seen.add(id);
    if (this.seen.size > SEEN_MAX) this.seen.delete(this.seen.values().next().value);
    return true;
  }

  // One more unread message in ch, before the server's count says so.
  bump(ch) {
    this.gen += 1;
    this.counts.set(ch, this.get(ch) + 1);
  }

  clear(ch) {
    return this.counts.delete(ch);
  }

  reset() {
    this.counts = new Map();
    this.seen = new Set();
    this.gen += 1;
  }

  // The sum over every channel but those in skip (shown or followed: read).
  total(skip = []) {
    let t = 0;
    for (const [ch, n] of this.counts) if (!skip.includes(ch)) t += n;
    return t;
  }
}
