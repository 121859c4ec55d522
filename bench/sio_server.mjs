// sio_server.mjs - bench/chat.sh's peer: a Socket.IO 4.8 server, HTTP
// long-polling only, with the Redis adapter (@socket.io/redis-adapter) on
// its own redis-server, in this one Node process. A client joins a room
// ("join", acknowledged) and sends ("msg" room text); the server broadcasts
// each text to the whole room, the sender included, through the adapter
// (io.to(room).emit: a PUBLISH to Redis and the local delivery). It stores
// nothing and checks nothing: no history, no users, no sessions, no rate
// limit. Prints "listening" once it accepts.
// What it broadcasts (SIO_MESSAGE):
//   text      the text alone (default; the peer as the issue measured it)
//   contract  the object our /poll delivers for a channel message: a new
//             UUID, the sender's UUID and {UUID, Username, OnLine},
//             RecipientUUID, Message and CreatedAt, in the same
//             {"type":"channelMessage","channelMessage":{...}} shape (docs/
//             contract.md), so both sides carry the same bytes per delivery
// Env: PORT, REDIS_URL (redis://127.0.0.1:PORT), SIO_MESSAGE.
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";

const pub = createClient({ url: process.env.REDIS_URL });
const sub = pub.duplicate();
for (const c of [pub, sub]) c.on("error", (e) => console.error(`redis: ${e.message}`));
await Promise.all([pub.connect(), sub.connect()]);

const contract = process.env.SIO_MESSAGE === "contract";
const http = createServer();
const io = new Server(http, { transports: ["polling"], serveClient: false, adapter: createAdapter(pub, sub) });
io.on("connection", (socket) => {
  const me = { UUID: randomUUID(), Username: `u${socket.id.slice(0, 6)}`, OnLine: true };
  const shaped = (text) => ({
    type: "channelMessage",
    channelMessage: { UUID: randomUUID(), SenderUUID: me.UUID, Sender: me, RecipientUUID: "", Message: text,
      CreatedAt: new Date().toISOString() },
  });
  socket.on("join", (room, ack) => {
    socket.join(String(room));
    if (typeof ack === "function") ack();
  });
  socket.on("msg", (room, text) => io.to(String(room)).emit("m", contract ? shaped(text) : text));
});

// SIGTERM (bench/chat.sh's stop): close the clients' polls, then exit
process.on("SIGTERM", () => {
  io.close();
  process.exit(0);
});
http.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("listening"));
