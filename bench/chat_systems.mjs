// chat_systems.mjs - the two systems bench/chat.sh compares, behind one
// interface for bench/chat_worker.mjs. A client c is {idx, name, room}.
//   signIn(c)        -> the user's UUID ("" where there are no users)
//   join(c, peer)    the client follows its room (peer: the other member's
//                    UUID for a private pair, "" for General) and receives
//                    from then on; resolves once it does
//   send(c, text)    resolves true once the server took the message, false
//                    when it gave up (counted in errors); both sides send
//                    what a client queued meanwhile in one request
// Each received text goes to onText(c, text, ms) with the time it arrived.
//   ours: this stack through lighttpd, POST /api and GET /poll with the
//         cursor, as the web client does (bench/chat_client.mjs), over
//         node:http with keep-alive
//   sio:  socket.io-client 4.8, transports ['polling'], one connection
//         (Manager) per client
import http from "node:http";
import { io } from "socket.io-client";
import { client, request } from "./chat_client.mjs";

export const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function ours(base, onText, error) {
  const agent = new http.Agent({ keepAlive: true });
  const chat = client(base, agent);
  const auth = (c) => ({ Authorization: `Bearer ${c.key}` });
  const poll = (c, query, timeoutMs) => request(agent, `${base}/poll?sessionUUID=${c.s}&${query}`,
    { headers: auth(c), timeoutMs });

  async function pollLoop(c, cursor) {
    for (;;) {
      let res, j;
      try {
        res = await poll(c, `timeout=25&cursor=${encodeURIComponent(cursor)}`, 40000);
        j = res.json;
      } catch (e) {
        error(`poll ${e.name}`);
        await sleep(500);
        continue;
      }
      if (res.status !== 200) {
        error(`poll ${res.status} ${j.error && j.error.code}`);
        await sleep(500);
        continue;
      }
      const t = now();
      for (const m of j.messages) if (m.type === "channelMessage") onText(c, m.channelMessage.Message, t);
      cursor = j.cursor;
      if (j.pollAfter) await sleep(j.pollAfter);
    }
  }

  return {
    async signIn(c) {
      Object.assign(c, await chat.signIn(c.name));
      return c.uuid;
    },
    async join(c, peer) {
      c.recipient = peer;
      await chat.join(c, peer);
      const { status, json } = await poll(c, "timeout=0", 30000);
      if (status !== 200) throw new Error(`first poll: ${status} ${JSON.stringify(json)}`);
      pollLoop(c, json.cursor);
    },
    // Messages queued while a POST is out go together in the next one
    // (channelMessageBatch), as engine.io's polling transport sends the
    // packets it buffered in one POST: at most one send in flight per
    // client. A 503, 429 or timeout is retried with the same clientIds, as
    // the web client does: stored once whatever happened to the first answer.
    send(c, text) {
      return new Promise((resolve) => {
        (c.queue ||= []).push({ message: text, clientId: crypto.randomUUID(), resolve });
        if (!c.posting) flush(c);
      });
    },
  };

  async function flush(c) {
    c.posting = true;
    while (c.queue.length) {
      const batch = c.queue.splice(0, 32);
      const ok = await post(c, batch);
      for (const m of batch) m.resolve(ok);
    }
    c.posting = false;
  }

  async function post(c, batch) {
    const msgs = batch.map((m) => ({ recipientUUID: c.recipient, message: m.message, clientId: m.clientId }));
    const body = msgs.length === 1 ? { type: "channelMessage", channelMessage: msgs[0] }
      : { type: "channelMessageBatch", channelMessageBatch: { messages: msgs } };
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await chat.api(body, c.key);
        return true;
      } catch (e) {
        error(`send ${e.status || e.name} ${e.code || ""}`.trim());
        await sleep(200);
      }
    }
    return false;
  }
}

export function sio(url, onText, error) {
  // connections kept alive, as a browser (and the other side's fetch) does:
  // socket.io-client's default in Node is a new TCP connection per request
  const agent = new http.Agent({ keepAlive: true });
  return {
    async signIn() {
      return "";
    },
    async join(c) {
      c.sock = io(url, { transports: ["polling"], forceNew: true, reconnection: false, agent });
      // the text, or (SIO_MESSAGE=contract) the text of the message object
      c.sock.on("m", (m) => onText(c, typeof m === "string" ? m : m.channelMessage.Message, now()));
      c.sock.on("disconnect", (why) => error(`disconnect ${why}`));
      c.sock.on("connect_error", (e) => error(`connect_error ${e.message}`));
      await c.sock.timeout(10000).emitWithAck("join", `r${c.room}`);
    },
    // emit buffers it; engine.io's POST carries it (with any others queued)
    async send(c, text) {
      if (!c.sock.connected) return false;
      c.sock.emit("msg", `r${c.room}`, text);
      return true;
    },
  };
}
