// delivery.js - the long-poll loop (docs/contract.md §4). One poll at a time,
// always passing back the last cursor, so every pushed object arrives once
// and in order. Failures back off with jitter; 404 (session expired) and
// 401 (key revoked) are handed to the app.
//
// Why long-poll and not EventSource: EventSource cannot send the
// Authorization header (the key would sit in the URL and in access logs)
// and cannot see the HTTP status, so it cannot tell "session expired"
// (404) or "signed out" (401) from a network failure.
import { ApiError, ERR_BAD_CURSOR, poll } from "./api.js";
import { backoffDelay } from "./store.js";

const POLL_TIMEOUT_S = 25;
// A server that answers an empty poll at once (the FastCGI fallback does)
// is polled at most this often.
const MIN_EMPTY_INTERVAL_MS = 2000;
const MAX_POLL_AFTER_MS = 30000;

export class Poller {
  // hooks: auth() -> {session, key} | null; cursor() -> string | null;
  // badCursor() (forget it);
  // batch(reply) (may be async; stores the cursor); expired() (async: new
  // session); unauthorized(); status(state, {delayMs, error}) with state
  // "connecting" | "online" | "offline" | "unavailable".
  constructor(hooks) {
    this.hooks = hooks;
    this.running = false;
    this.ctl = null;
    this.wake = null;
    this.lastAnswer = 0; // when the server last answered (or failed) a poll
  }

  // A poll outstanding far longer than its timeout is stuck on a dead
  // connection (a laptop that slept, a changed network): start over.
  revive() {
    if (!this.running || Date.now() - this.lastAnswer < (POLL_TIMEOUT_S + 10) * 1000) return;
    this.stop();
    this.start();
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.lastAnswer = Date.now();
    this.ctl = new AbortController();
    this.loop(this.ctl.signal);
  }

  stop() {
    this.running = false;
    if (this.ctl) this.ctl.abort();
    this.ctl = null;
    this.kick();
  }

  // Ends a backoff wait now (the "Retry now" button, the browser's online event).
  kick() {
    if (this.wake) this.wake();
  }

  sleep(ms, signal) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
      signal.addEventListener("abort", done, { once: true });
    });
  }

  async loop(signal) {
    let failures = 0;
    let announced = false;
    let quick = true; // the first poll (and the first after a failure) answers at once
    this.hooks.status("connecting", {});
    while (!signal.aborted) {
      const auth = this.hooks.auth();
      if (!auth) return;
      const t0 = Date.now();
      const wasQuick = quick;
      try {
        const reply = await poll({
          session: auth.session, key: auth.key, cursor: this.hooks.cursor(),
          timeout: quick ? 0 : POLL_TIMEOUT_S, signal,
        });
        quick = false;
        if (signal.aborted) return;
        this.lastAnswer = Date.now();
        if (failures > 0 || !announced) this.hooks.status("online", { recovered: failures > 0 });
        failures = 0;
        announced = true;
        await this.hooks.batch(reply);
        const empty = !reply.messages || reply.messages.length === 0;
        const early = Date.now() - t0;
        // pollAfter: the server could not hold this poll (all its workers
        // that may hold one are busy) and says when to ask again
        const after = Number.isInteger(reply.pollAfter) && reply.pollAfter > 0
          ? Math.min(reply.pollAfter, MAX_POLL_AFTER_MS) : 0;
        if (after) await this.sleep(after, signal);
        else if (empty && !wasQuick && early < MIN_EMPTY_INTERVAL_MS) await this.sleep(MIN_EMPTY_INTERVAL_MS - early, signal);
      } catch (err) {
        if (signal.aborted) return;
        this.lastAnswer = Date.now();
        if (!(err instanceof ApiError)) {
          console.error("poll loop:", err); // a bug in a hook: keep delivering
          await this.sleep(1000, signal);
          continue;
        }
        if (err.status === 401) {
          this.hooks.unauthorized(err);
          return;
        }
        if (err.status === 400 && err.code === ERR_BAD_CURSOR) {
          this.hooks.badCursor(); // not ours any more: start from the session's start
          quick = true;
          continue;
        }
        if (err.status === 404 && err.code !== -1) {
          try {
            await this.hooks.expired();
            quick = true;
            continue;
          } catch (again) {
            if (again instanceof ApiError && again.status === 401) {
              this.hooks.unauthorized(again);
              return;
            }
            err = again instanceof ApiError ? again : err;
          }
        }
        const delayMs = Math.max(err.retryAfterMs || 0, backoffDelay(failures));
        failures += 1;
        this.hooks.status(err.status === 0 ? "offline" : "unavailable", { delayMs, error: err });
        await this.sleep(delayMs, signal);
        quick = true;
        if (!signal.aborted) this.hooks.status("connecting", { retry: true });
      }
    }
  }
}
