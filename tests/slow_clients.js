// slow_clients.js - one hostile client for tests/edge_limits.bats (node,
// built-ins only): from one source address it opens COUNT connections to
// the front server and keeps each one alive by trickling its request head,
// one header line per connection a second, so that no idle limit ends
// them; beside them SILENT connections that send nothing at all. Runs for
// SECONDS, then closes everything and exits.
//   node slow_clients.js HOST PORT SOURCE_ADDR COUNT SILENT SECONDS
// Prints one line per event, for the suite to wait on:
//   open N            every trickling connection is connected
//   silent-closed T   the server closed the last silent one, T s after open
//   end N             N trickling connections were still open at the end
'use strict';
const net = require('net');

const [host, port, source, count, silent, seconds] = process.argv.slice(2);
const trickling = [];
let connected = 0;
let silentLeft = Number(silent);
const t0 = Date.now();

function open(onConnect) {
    const s = net.connect({ host, port: Number(port), localAddress: source });
    s.on('error', () => {});
    s.on('connect', () => onConnect(s));
    return s;
}

for (let i = 0; i < Number(count); i++) {
    const s = open(() => {
        s.write('GET /poll HTTP/1.1\r\nHost: 127.0.0.1\r\n');
        if (++connected === Number(count)) console.log(`open ${connected}`);
    });
    s.alive = true;
    s.on('close', () => { s.alive = false; });
    trickling.push(s);
}
for (let i = 0; i < Number(silent); i++) {
    const s = open(() => {});
    s.on('close', () => {
        if (--silentLeft === 0)
            console.log(`silent-closed ${((Date.now() - t0) / 1000).toFixed(1)}`);
    });
}

let n = 0;
const tick = setInterval(() => {
    n++;
    for (const s of trickling) if (s.alive) s.write(`X-Slow-${n}: a\r\n`);
}, 1000);

setTimeout(() => {
    clearInterval(tick);
    console.log(`end ${trickling.filter((s) => s.alive).length}`);
    process.exit(0);
}, Number(seconds) * 1000);
