// node_ws: the transport benchmark's endpoints on Node (one process, one thread):
// `ws` (tests/node_modules, perMessageDeflate off) for WebSocket, node:http for
// SSE, long polling and publish, the way a Node user would write them.
//   GET /ws/echo, GET /ws/topic/{t}, GET /sse/{t}, GET /longpoll/{t}?after=N&timeout_ms=T,
//   POST /publish/{t}
// Each event is encoded once per transport (a Buffer shared by every
// subscriber; `ws` frames it per connection, as its API does).
//
//   node benchmarks/peers/node_ws.mjs --port P [--bind 127.0.0.1]   prints "listening on http://ADDR:PORT"
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../tests/package.json'));
const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const port = Number(opt('--port', '0'));
const bind = opt('--bind', '127.0.0.1');

const topics = new Map();
function topic(name) {
  let t = topics.get(name);
  if (!t) { t = { head: 0, history: [], ws: new Set(), sse: new Set(), parked: new Set() }; topics.set(name, t); }
  return t;
}

function pollBody(t, after) {
  const reset = after > t.head;
  const evs = t.history.filter((e) => reset || e.id > after);
  const next = evs.length ? evs[evs.length - 1].id : after;
  return `{"events":[${evs.map((e) => e.json).join(',')}],"next":${next},"reset":${reset}}`;
}

function answerPoll(res, t, after) {
  const body = pollBody(t, after);
  res.writeHead(200, { 'Cache-Control': 'no-store', 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function publish(name, data) {
  const t = topic(name);
  const id = ++t.head;
  const ev = { id, json: JSON.stringify({ id, data }) };
  t.history.push(ev);
  if (t.history.length > 1024) t.history.shift();
  if (t.ws.size) {
    const buf = Buffer.from(data);
    for (const ws of t.ws) ws.send(buf, { binary: false });
  }
  if (t.sse.size) {
    const frame = Buffer.from(`id: ${id}\n` + data.split('\n').map((l) => `data: ${l}\n`).join('') + '\n');
    for (const res of t.sse) res.write(frame);
  }
  if (t.parked.size) {
    const parked = [...t.parked];
    t.parked.clear();
    for (const p of parked) { clearTimeout(p.timer); answerPoll(p.res, t, p.after); }
  }
  return id;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  if (req.method === 'POST' && p.startsWith('/publish/')) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const id = publish(p.slice(9), Buffer.concat(chunks).toString('utf8'));
      const body = `{"id":${id}}`;
      res.writeHead(202, { 'Content-Type': 'application/json', 'Content-Length': body.length });
      res.end(body);
    });
    return;
  }
  if (req.method === 'GET' && p.startsWith('/sse/')) {
    const t = topic(p.slice(5));
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
    res.write('retry: 2000\n\n');
    t.sse.add(res);
    req.on('close', () => t.sse.delete(res));
    return;
  }
  if (req.method === 'GET' && p.startsWith('/longpoll/')) {
    const t = topic(p.slice(10));
    const after = Number(url.searchParams.get('after') || 0);
    const timeout = Number(url.searchParams.get('timeout_ms') || 30000);
    if (after !== t.head) return answerPoll(res, t, after);
    const parked = { res, after, timer: null };
    parked.timer = setTimeout(() => { t.parked.delete(parked); answerPoll(res, t, after); }, timeout);
    t.parked.add(parked);
    req.on('close', () => { clearTimeout(parked.timer); t.parked.delete(parked); });
    return;
  }
  if (p === '/healthz') { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end('ok\n'); return; }
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found\n');
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 125000;
server.requestTimeout = 0;

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
server.on('upgrade', (req, socket, head) => {
  const p = new URL(req.url, 'http://x').pathname;
  if (p !== '/ws/echo' && !p.startsWith('/ws/topic/')) { socket.destroy(); return; }
  wss.handleUpgrade(req, socket, head, (ws) => {
    socket.setNoDelay(true);
    if (p === '/ws/echo') {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    } else {
      const name = p.slice(10);
      const t = topic(name);
      t.ws.add(ws);
      ws.on('message', (data) => publish(name, data.toString('utf8')));
      ws.on('close', () => t.ws.delete(ws));
    }
  });
});
server.on('connection', (s) => s.setNoDelay(true));
server.maxConnections = 100000;
server.listen(port, bind, 4096, () => {
  console.log(`node_ws listening on http://${bind}:${server.address().port}`);
});
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
