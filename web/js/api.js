// api.js - the HTTP contract (docs/contract.md): POST /api and GET /poll.
// Every failure becomes an ApiError with the HTTP status (0 = the network or
// the server could not be reached), the contract's error code and a text
// meant for people.

// Paths are relative to the page, so the client works from any directory
// of a static host that also answers ./api and ./poll. (Outside a page, as
// in the node unit tests, globalThis.CHAT_BASE stands in.)
function endpoint(name) {
  const base = typeof document !== "undefined" ? document.baseURI : globalThis.CHAT_BASE;
  return new URL(name, base);
}

export class ApiError extends Error {
  constructor(status, code, message, retryAfterMs = 0) {
    super(message);
    this.name = "ApiError";
    this.status = status; // HTTP status, 0 for "no answer"
    this.code = code; // contract error code, -1 when there was none
    this.retryAfterMs = retryAfterMs;
  }
}

// Retry-After as milliseconds: delta-seconds or an HTTP date; 0 if absent.
export function retryAfterMs(value, now = Date.now()) {
  if (!value) return 0;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? 0 : Math.max(0, t - now);
}

const STATUS_WORDS = {
  400: "The server did not accept the request.",
  401: "You are not signed in any more.",
  403: "You are not allowed to do that.",
  404: "Not found.",
  409: "That name is taken.",
  413: "That is too large to send.",
  429: "Too many requests; please wait a moment.",
  500: "The server had an internal error.",
  502: "The chat server is not reachable right now.",
  503: "The chat service is unavailable right now.",
  504: "The chat server took too long to answer.",
};

function withTimeout(signal, ms) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new DOMException("timed out", "TimeoutError")), ms);
  const onAbort = () => ctl.abort(signal.reason);
  if (signal) {
    if (signal.aborted) ctl.abort(signal.reason);
    else signal.addEventListener("abort", onAbort, { once: true });
  }
  const done = () => {
    clearTimeout(timer);
    if (signal) signal.removeEventListener("abort", onAbort);
  };
  return { signal: ctl.signal, done };
}

async function request(url, init, timeoutMs, outerSignal) {
  const t = withTimeout(outerSignal, timeoutMs);
  let res;
  let text;
  try {
    res = await fetch(url, { ...init, signal: t.signal, cache: "no-store", credentials: "omit" });
    text = await res.text();
  } catch (err) {
    if (outerSignal && outerSignal.aborted) throw err; // the caller gave up: not a failure
    const timedOut = err && err.name === "AbortError" || err && err.name === "TimeoutError";
    throw new ApiError(0, -1, timedOut
      ? "The server did not answer in time."
      : "Cannot reach the chat server. Check your connection.");
  } finally {
    t.done();
  }
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null; // e.g. a proxy's HTML error page
  }
  const wait = retryAfterMs(res.headers.get("Retry-After"));
  if (res.ok && body && typeof body === "object" && body.type !== "error") return body;
  const err = body && body.type === "error" && body.error ? body.error : null;
  const status = res.ok ? 500 : res.status;
  const words = (err && (err.message || err.error)) || STATUS_WORDS[status] ||
    `The server answered with HTTP ${status}.`;
  throw new ApiError(status, err && Number.isInteger(err.code) ? err.code : -1, words, wait);
}

// Error codes the client acts on (docs/contract.md, section 3)
export const ERR_BAD_CURSOR = 207; // a cursor of another session, or malformed
export const ERR_NO_KEY = 208; // the server saw no access key
export const ERR_NO_SESSION = 213; // unknown or expired session: ready again

// The key goes in the Authorization header, out of URLs and access logs.
// Some hosts strip that header (Apache without CGIPassAuth, some proxies):
// a 208 to a request that carried it means exactly that, and from then on
// the key travels in the body (POST) or the query (poll) instead.
let keyInHeader = true;

export function resetKeyPlacement() {
  keyInHeader = true;
}

async function withKey(key, send) {
  if (!key || !keyInHeader) return send(false);
  try {
    return await send(true);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401 || err.code !== ERR_NO_KEY) throw err;
    keyInHeader = false;
    return send(false);
  }
}

// post(obj, key?, {signal, timeoutMs}): one request object, its reply object.
export function post(obj, key, { signal, timeoutMs = 20000 } = {}) {
  return withKey(key, (inHeader) => {
    const headers = { "Content-Type": "application/json" };
    let body = obj;
    if (key && inHeader) headers.Authorization = `Bearer ${key}`;
    else if (key) body = { ...obj, accessKey: key };
    return request(endpoint("api"), { method: "POST", headers, body: JSON.stringify(body) }, timeoutMs, signal);
  });
}

// poll({session, key, cursor, timeout, signal}): {cursor, messages, reset?}.
export function poll({ session, key, cursor, timeout = 25, signal }) {
  return withKey(key, (inHeader) => {
    const url = endpoint("poll");
    url.searchParams.set("sessionUUID", session);
    if (cursor) url.searchParams.set("cursor", cursor);
    url.searchParams.set("timeout", String(timeout));
    if (!inHeader) url.searchParams.set("accessKey", key);
    return request(url, { method: "GET", headers: inHeader ? { Authorization: `Bearer ${key}` } : {} },
      (timeout + 15) * 1000, signal);
  });
}
