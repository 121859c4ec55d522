// cors.js - a page on another origin talks to the chat at ?base=...:
// ready, signIn, users (Authorization: preflight), a poll that wakes on a
// message (GET with Authorization: preflight on chat-poller). The outcome
// goes to window.result: "ok ..." or "failed: ...".
const base = new URLSearchParams(location.search).get("base");

async function call(body, key) {
  const headers = { "Content-Type": "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  const res = await fetch(`${base}/api`, { method: "POST", headers, body: JSON.stringify(body) });
  return res.json();
}

async function run() {
  const s = (await call({ type: "ready" })).ready.sessionUUID;
  const a = await call({ type: "signIn", sessionUUID: s, signIn: { username: `cors-${Date.now()}`, password: "pw" } });
  const key = a.authorized.accessKey;
  const users = await call({ type: "users" }, key);
  await call({ type: "channelJoin", sessionUUID: s, channelJoin: { recipientUUID: "" } }, key);
  const auth = { headers: { Authorization: `Bearer ${key}` } };
  const first = await (await fetch(`${base}/poll?sessionUUID=${s}&timeout=0`, auth)).json();
  const waiting = fetch(`${base}/poll?sessionUUID=${s}&timeout=10&cursor=${encodeURIComponent(first.cursor)}`, auth);
  await new Promise((r) => setTimeout(r, 300));
  await call({ type: "channelMessage", channelMessage: { recipientUUID: "", message: "across origins" } }, key);
  const res = await waiting;
  const got = await res.json();
  const texts = got.messages.filter((m) => m.type === "channelMessage").map((m) => m.channelMessage.Message);
  return `ok users=${users.users.total} msg=${texts.join()} retry-after-visible=${res.headers.has("Retry-After") || "n/a"}`;
}

run().then((r) => { window.result = r; }, (e) => { window.result = `failed: ${e}`; });
