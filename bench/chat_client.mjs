// chat_client.mjs - what the node benchmarks share: POST /api, a user
// signed in and joined to General (or a private channel), and percentiles.
import http from "node:http";

// One HTTP/1.1 request over node:http through AGENT (keep-alive): {status,
// json}. Lighter on the client's CPU than fetch (bench/chat.sh's clients
// share the two cores with the servers), and the same HTTP stack as
// socket.io-client's polling in Node.
export function request(agent, url, { method = "GET", headers = {}, body, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const h = body === undefined ? headers : { ...headers, "Content-Length": Buffer.byteLength(body) };
    const req = http.request(url, { method, headers: h, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode, json: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
        } catch (e) {
          reject(e);
        }
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error("timeout"), { name: "TimeoutError" })));
    req.on("error", reject);
    req.end(body);
  });
}

// client(base[, agent]): with an http.Agent, requests go through request()
// above, else through fetch.
export function client(base, agent) {
  async function post(body, headers) {
    if (agent) return request(agent, `${base}/api`, { method: "POST", headers, body });
    const res = await fetch(`${base}/api`, { method: "POST", headers, body, signal: AbortSignal.timeout(30000) });
    return { status: res.status, json: await res.json() };
  }

  // A non-2xx answer throws an Error with .status and .code.
  async function api(body, key) {
    const headers = { "Content-Type": "application/json" };
    if (key) headers.Authorization = `Bearer ${key}`;
    const { status, json: j } = await post(JSON.stringify(body), headers);
    if (status < 200 || status > 299) {
      const e = new Error(`${body.type}: ${status} ${JSON.stringify(j)}`);
      e.status = status;
      e.code = j.error && j.error.code;
      throw e;
    }
    return j;
  }

  // ready and signIn (creates the user): {s, key, uuid}, the session claimed.
  async function signIn(name) {
    const s = (await api({ type: "ready" })).ready.sessionUUID;
    const a = await api({ type: "signIn", sessionUUID: s, signIn: { username: name, password: "pw" } });
    return { s, key: a.authorized.accessKey, uuid: a.authorized.userUUID };
  }

  // The session follows the channel: "" is General, a user's UUID the
  // private channel with that user.
  async function join(u, recipientUUID) {
    await api({ type: "channelJoin", sessionUUID: u.s, channelJoin: { recipientUUID } }, u.key);
  }

  // signIn and channelJoin General: {s, key, uuid}.
  async function user(name) {
    const u = await signIn(name);
    await join(u, "");
    return u;
  }
  return { api, user, signIn, join };
}

// The p-quantile (0..1) of the numbers in v; NaN when empty.
export function pct(v, p) {
  const s = Float64Array.from(v).sort();
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
}
