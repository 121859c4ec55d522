// tabs.js - one poll per browser profile and origin, shared by all its tabs
// (docs/web.md "Many tabs"). HTTP/1.1 allows 6 connections per host and a
// held poll takes one, so with a poll per tab the 7th tab could not even
// sign in. The tab that holds the Web Lock LOCK polls; it passes every
// answer to the other tabs over the BroadcastChannel CHANNEL. When it
// closes, the lock passes to a waiting tab, which polls on from the last
// cursor it was passed: nothing is lost, and the timelines drop repeats.
//
// The sign-in is the profile's: a tab that opens asks the leader for it, a
// sign-in or a sign-out in one tab is every tab's. The access key only
// travels between tabs of the origin and stays in sessionStorage.
//
// Without Web Locks or BroadcastChannel every tab polls for itself.

const LOCK = "rcg-chat.poll.v1";
const CHANNEL = "rcg-chat.tabs.v1";
const HELLO_TIMEOUT_MS = 1000;

export function tabsShared() {
  return typeof BroadcastChannel === "function" &&
    typeof navigator !== "undefined" && !!navigator.locks &&
    typeof navigator.locks.request === "function";
}

export class TabGroup {
  // hooks:
  //   lead()                     this tab polls from now on (it holds the lock)
  //   snapshot() -> {auth, cursor, joined} | null   what a new tab adopts
  //   adopt({auth, cursor, joined})   the profile's sign-in (another tab's)
  //   signedOut(note)            another tab signed out, or lost its key
  //   batch(reply)               a poll answer the leader received
  //   followed(ch, session, messages)   a tab made the session follow ch;
  //                              messages: the history its join read
  //   status(kind, info)         the leader's connection state
  //   kick()                     a tab asked the leader to retry now
  constructor(hooks) {
    this.hooks = hooks;
    this.shared = tabsShared();
    this.leading = !this.shared; // alone, every tab is its own leader
    this.bc = null;
    this.helloWait = null;
  }

  // Resolves once this tab knows whether it is alone (it leads at once)
  // or what the profile's sign-in is (snapshot of the leader, or null).
  async start() {
    if (!this.shared) return { alone: true, profile: null };
    this.bc = new BroadcastChannel(CHANNEL);
    this.bc.onmessage = (e) => this.onMessage(e.data);
    // Every live tab holds or waits for the lock, so a free lock means no
    // other tab is open: nobody to ask.
    const alone = await new Promise((resolve) => {
      navigator.locks.request(LOCK, { ifAvailable: true }, (lock) => {
        if (!lock) {
          resolve(false);
          return undefined;
        }
        resolve(true);
        return this.holdLead();
      });
    });
    if (alone) return { alone: true, profile: null };
    const profile = await this.hello();
    navigator.locks.request(LOCK, () => this.holdLead());
    return { alone: false, profile };
  }

  // Held until the tab closes: the browser then gives the lock to the
  // next waiting tab.
  holdLead() {
    this.leading = true;
    this.hooks.lead();
    return new Promise(() => {});
  }

  hello() {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(null), HELLO_TIMEOUT_MS);
      const finish = (v) => {
        clearTimeout(timer);
        this.helloWait = null;
        resolve(v);
      };
      this.helloWait = finish;
      this.post({ t: "hello" });
    });
  }

  post(msg) {
    if (this.bc) this.bc.postMessage(msg);
  }

  onMessage(m) {
    if (!m || typeof m !== "object") return;
    switch (m.t) {
    case "hello":
      if (this.leading) this.post({ t: "profile", profile: this.hooks.snapshot() });
      break;
    case "profile":
      if (this.helloWait) this.helloWait(m.profile || null);
      break;
    case "signin":
      if (m.profile && m.profile.auth) this.hooks.adopt(m.profile);
      break;
    case "signout":
      this.hooks.signedOut(m.note || "");
      break;
    case "batch":
      if (m.reply) this.hooks.batch(m.reply, m.key);
      break;
    case "follow":
      this.hooks.followed(m.channel, m.session, Array.isArray(m.messages) ? m.messages : []);
      break;
    case "status":
      this.hooks.status(m.kind, m.info || {});
      break;
    case "kick":
      if (this.leading) this.hooks.kick();
      break;
    default:
      break;
    }
  }

  // What this tab tells the others. No-ops when tabs are not shared.
  signedIn(profile) { this.post({ t: "signin", profile }); }
  signedOut(note) { this.post({ t: "signout", note }); }
  batch(reply, key) { this.post({ t: "batch", reply, key }); }
  // The join's history goes with it: a join moves where the session's poll
  // starts, so a tab that joined earlier would miss what lies between its
  // own history and this one.
  follow(channel, session, messages) { this.post({ t: "follow", channel, session, messages }); }
  status(kind, info) {
    // an Error does not survive structured cloning as itself: words only
    const i = { delayMs: info.delayMs, retry: info.retry, recovered: info.recovered,
      error: info.error ? { message: String(info.error.message || "") } : undefined };
    this.post({ t: "status", kind, info: i });
  }

  kickLeader() { this.post({ t: "kick" }); }
}
