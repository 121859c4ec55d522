// auth_fallback.mjs - web/js/api.js against a server whose front strips the
// Authorization header (BASE): it must notice (401 code 208) and carry on
// with the key in the body and the query. Prints "fallback ok".
import assert from "node:assert/strict";
import { post, poll } from "../../web/js/api.js";

globalThis.CHAT_BASE = `${process.env.BASE}/`;

const ready = await post({ type: "ready" });
const session = ready.ready.sessionUUID;
const name = `strip-${process.pid}`;
const auth = await post({ type: "signIn", sessionUUID: session, signIn: { username: name, password: "pw" } });
const key = auth.authorized.accessKey;
// a request that needs the key: the header is stripped, the body carries it
const users = await post({ type: "users" }, key);
assert.ok(users.users.users.some((u) => u.Username === name));
await post({ type: "channelJoin", sessionUUID: session, channelJoin: { recipientUUID: "" } }, key);
const first = await poll({ session, key, timeout: 0 });
assert.ok(first.cursor);
const waiting = poll({ session, key, cursor: first.cursor, timeout: 10 });
await new Promise((r) => setTimeout(r, 300));
await post({ type: "channelMessage", channelMessage: { recipientUUID: "", message: "through a stripping host" } }, key);
const got = await waiting;
assert.equal(got.messages.filter((m) => m.type === "channelMessage")
  .map((m) => m.channelMessage.Message).join(), "through a stripping host");
console.log("fallback ok");
