// herald-demo's WebSocket endpoints against Node's `ws` package: echo of text
// and binary from 0 bytes to 16 MiB with permessage-deflate on and off,
// fragmented messages, close codes (1003, 1007, 1009), the origin allowlist,
// herald.v1 ids with ?after resume and reset, and 1001 on SIGTERM.
//
//   node websocket_ws.test.mjs <herald-demo>
import crypto from 'node:crypto';
import { createRequire } from 'node:module';

import { startDemo, publish, withTimeout, run } from './lib.mjs';

const require = createRequire(new URL('../package.json', import.meta.url));
const WebSocket = require('ws');
const demoPath = process.argv[2];
const T = 30000;

/// Opens a socket; resolves with `{ws, next(), closed}` once open.
/// `next()` resolves with the next message `{data, binary}`; `closed` with `{code, reason}`.
async function open(url, { protocols, ...opts } = {}) {
  const ws = new WebSocket(url, protocols, { maxPayload: 64 << 20, ...opts });
  const queue = [];
  const waiters = [];
  ws.on('message', (data, binary) => {
    const m = { data: binary ? data : data.toString('utf8'), binary };
    if (waiters.length) waiters.shift()(m); else queue.push(m);
  });
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await withTimeout(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`status ${res.statusCode}`), { status: res.statusCode })));
  }), T, `open ${url}`);
  return {
    ws,
    closed: withTimeout(closed, T, `close of ${url}`),
    next: () => withTimeout(queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)), T, `message on ${url}`),
  };
}

function textOf(n) {
  const unit = 'ab\u00e9\u20ac';  // 7 bytes of UTF-8
  let s = unit.repeat(Math.floor(n / 7));
  return s + 'x'.repeat(n - Buffer.byteLength(s));
}

await run('websocket_ws (Node ws)', async (t) => {
  const demo = t.defer(await startDemo(demoPath, ['--ws-origin', 'https://app.example']));
  const small = t.defer(await startDemo(demoPath, ['--max-message', '1000']));
  const base = demo.url.replace('http://', 'ws://');
  const smallBase = small.url.replace('http://', 'ws://');

  for (const deflate of [true, false]) {
    const c = await open(`${base}/ws/echo`, { perMessageDeflate: deflate ? { threshold: 0 } : false });
    t.check(`deflate=${deflate}: extension negotiated iff offered`, c.ws.extensions.includes('permessage-deflate') === deflate, c.ws.extensions);
    for (const n of [0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20, 16 << 20]) {
      const text = textOf(n);
      const bin = crypto.randomBytes(n);
      c.ws.send(text);
      c.ws.send(bin);
      const rt = await c.next();
      const rb = await c.next();
      t.check(`echo text ${n} B (deflate=${deflate})`, !rt.binary && rt.data === text, `got ${rt.data.length}`);
      t.check(`echo binary ${n} B (deflate=${deflate})`, rb.binary && Buffer.compare(rb.data, bin) === 0, `got ${rb.data.length}`);
    }
    // A fragmented message: `fin: false` keeps the message open.
    const parts = [textOf(3000), '€'.repeat(500), textOf(70000)];
    c.ws.send(parts[0], { fin: false });
    c.ws.send(parts[1], { fin: false });
    c.ws.send(parts[2], { fin: true });
    const rf = await c.next();
    t.check(`fragmented text echoes whole (deflate=${deflate})`, rf.data === parts.join(''));
    c.ws.close(4001, 'done');
    const cl = await c.closed;
    t.check(`close handshake mirrored (deflate=${deflate})`, cl.code === 4001, JSON.stringify(cl));
  }

  // Close codes.
  let c = await open(`${base}/ws/topic/node-bin`);
  c.ws.send(Buffer.from([1, 2]));
  let cl = await c.closed;
  t.check('binary on a topic: 1003', cl.code === 1003, JSON.stringify(cl));
  c = await open(`${base}/ws/echo`, { perMessageDeflate: false });
  c.ws.send(Buffer.from([0x6f, 0x6b, 0xff, 0xfe]), { binary: false });  // a text frame ws does not validate
  cl = await c.closed;
  t.check('invalid UTF-8: 1007', cl.code === 1007, JSON.stringify(cl));
  c = await open(`${smallBase}/ws/echo`, { perMessageDeflate: false });
  c.ws.send('x'.repeat(1001));
  cl = await c.closed;
  t.check('over --max-message: 1009', cl.code === 1009, JSON.stringify(cl));
  c = await open(`${smallBase}/ws/echo`, { perMessageDeflate: { threshold: 0 } });
  c.ws.send('x'.repeat(1 << 20));
  cl = await c.closed;
  t.check('compressed message inflating past --max-message: 1009', cl.code === 1009, JSON.stringify(cl));

  // Origins.
  let status = 0;
  try { await open(`${base}/ws/echo`, { origin: 'https://evil.example' }); } catch (e) { status = e.status; }
  t.check('foreign Origin: 403', status === 403, String(status));
  c = await open(`${base}/ws/echo`, { origin: 'https://app.example' });
  c.ws.send('hi');
  t.check('allowed Origin echoes', (await c.next()).data === 'hi');
  c.ws.close();

  // herald.v1 ids, every subscriber including the sender, resume and reset.
  const url = `${base}/ws/topic/node-room`;
  const a = await open(url, { protocols: ['herald.v1'] });
  const b = await open(url);
  t.check('herald.v1 chosen', a.ws.protocol === 'herald.v1', a.ws.protocol);
  t.check('no subprotocol unless asked', b.ws.protocol === '', b.ws.protocol);
  for (let i = 1; i <= 4; i++) a.ws.send(`n${i} "q"`);
  for (let i = 1; i <= 4; i++) {
    const ra = await a.next();
    const rb = await b.next();
    t.check(`v1 event ${i}`, ra.data === `{"id":${i},"data":"n${i} \\"q\\""}`, ra.data);
    t.check(`plain event ${i}`, rb.data === `n${i} "q"`, rb.data);
  }
  const r = await open(`${url}?after=2`, { protocols: ['herald.v1'] });
  const got = [(await r.next()).data, (await r.next()).data];
  t.check('?after=2 replays 3 and 4', got[0].startsWith('{"id":3,') && got[1].startsWith('{"id":4,'), got.join(' '));
  await publish(demo.url, 'node-room', 'via http');
  t.check('then live', (await r.next()).data === '{"id":5,"data":"via http"}');
  const z = await open(`${url}?after=50`, { protocols: ['herald.v1'] });
  t.check('cursor ahead of head: reset', (await z.next()).data === '{"reset":true,"next":0}');
  t.check('then from the first', (await z.next()).data.startsWith('{"id":1,'));

  // SIGTERM: every WebSocket closes with 1001, and the demo exits 0.
  const closes = [a, b, r, z].map((x) => x.closed);
  const exit = await demo.stop();
  const codes = (await Promise.all(closes)).map((x) => x.code);
  t.check('SIGTERM closes WebSockets with 1001', codes.every((x) => x === 1001), codes.join(','));
  t.check('demo exits 0', exit.code === 0, JSON.stringify(exit));
});
