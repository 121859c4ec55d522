// chat_client.mjs - what the node benchmarks share: POST /api, a user
// signed in and joined to General, and percentiles.
export function client(base) {
  // A non-2xx answer throws an Error with .status and .code.
  async function api(body, key) {
    const headers = { "Content-Type": "application/json" };
    if (key) headers.Authorization = `Bearer ${key}`;
    const res = await fetch(`${base}/api`, { method: "POST", headers, body: JSON.stringify(body),
      signal: AbortSignal.timeout(30000) });
    const j = await res.json();
    if (!res.ok) {
      const e = new Error(`${body.type}: ${res.status} ${JSON.stringify(j)}`);
      e.status = res.status;
      e.code = j.error && j.error.code;
      throw e;
    }
    return j;
  }

  // ready, signIn (creates the user) and channelJoin General: {s, key}.
  async function user(name) {
    const s = (await api({ type: "ready" })).ready.sessionUUID;
    const a = await api({ type: "signIn", sessionUUID: s, signIn: { username: name, password: "pw" } });
    const key = a.authorized.accessKey;
    await api({ type: "channelJoin", sessionUUID: s, channelJoin: { recipientUUID: "" } }, key);
    return { s, key };
  }
  return { api, user };
}

// The p-quantile (0..1) of the numbers in v; NaN when empty.
export function pct(v, p) {
  const s = Float64Array.from(v).sort();
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
}
