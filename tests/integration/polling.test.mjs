// Short and long polling against herald-demo with real HTTP clients: Node's
// fetch (undici) and curl. Body, next, limit, ETag/304, 400s, CORS and
// preflight, long poll woken by a publish, timeout clamped to
// --long-poll-max-ms, a fetch-driven poll loop that must see every event once
// in order, and SIGTERM answering a parked long poll.
//   node tests/integration/polling.test.mjs path/to/herald-demo
import { spawn } from 'node:child_process';

import { publish, run, startDemo, withTimeout } from './lib.mjs';

const ORIGIN = 'http://app.example';

async function get(url, { headers = {}, method = 'GET', timeoutMs = 10000 } = {}) {
  const r = await withTimeout(fetch(url, { method, headers }), timeoutMs, `${method} ${url}`);
  const text = await withTimeout(r.text(), timeoutMs, `body of ${url}`);
  return { status: r.status, headers: r.headers, text };
}

async function metric(url, name) {
  const { text } = await get(`${url}/metrics`);
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

/// Waits (bounded) until `f()` resolves truthy, checking every 20 ms.
async function until(f, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out after ${ms} ms: ${what}`);
}
const PARKED = 'herald_connections{transport="longpoll"}';

function curl(args, timeoutMs = 15000) {
  return withTimeout(new Promise((resolve, reject) => {
    const p = spawn('curl', ['-s', '-i', '--max-time', String(Math.ceil(timeoutMs / 1000)), ...args]);
    let out = '';
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d) => { out += d; });
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, out }));
  }), timeoutMs + 2000, `curl ${args.join(' ')}`);
}

await run('polling (fetch + curl)', async (t) => {
  const demo = t.defer(await startDemo(process.argv[2], ['--cors-origin', ORIGIN, '--long-poll-max-ms', '3000']));
  const u = demo.url;

  // Short poll: empty topic, then events, limit, next.
  let r = await get(`${u}/poll/news?after=0`);
  t.check('short: 200', r.status === 200, r.status);
  t.check('short: application/json', r.headers.get('content-type') === 'application/json', r.headers.get('content-type'));
  t.check('short: Cache-Control no-store', r.headers.get('cache-control') === 'no-store');
  t.check('short: empty body', r.text === '{"events":[],"next":0,"reset":false}', r.text);
  for (const d of ['a', 'b "quoted"', 'c\nline']) await publish(u, 'news', d);
  r = await get(`${u}/poll/news?after=0`);
  let b = JSON.parse(r.text);
  t.check('short: three events in order', JSON.stringify(b.events.map((e) => e.id)) === '[1,2,3]', r.text);
  t.check('short: data round-trips', b.events[1].data === 'b "quoted"' && b.events[2].data === 'c\nline', r.text);
  t.check('short: next is the last id', b.next === 3 && b.reset === false, r.text);
  r = await get(`${u}/poll/news?after=1&limit=1`);
  b = JSON.parse(r.text);
  t.check('short: limit', b.events.length === 1 && b.events[0].id === 2 && b.next === 2, r.text);
  r = await get(`${u}/poll/news?after=3`);
  const etag = r.headers.get('etag');
  t.check('short: ETag', /^W\/".+"$/.test(etag ?? ''), etag);
  r = await get(`${u}/poll/news?after=3`, { headers: { 'If-None-Match': etag } });
  t.check('short: 304 on If-None-Match', r.status === 304 && r.text === '', `${r.status} ${r.text}`);
  r = await get(`${u}/poll/news?after=99`);
  b = JSON.parse(r.text);
  t.check('short: reset when ahead of the head', b.reset === true && b.events[0].id === 1, r.text);

  for (const q of ['/poll/news', '/poll/news?after=x', '/poll/news?after=0&limit=0', '/poll/news?after=0&limit=99999',
    '/longpoll/news?after=0&timeout_ms=soon', '/poll/bad%20topic?after=0', '/poll/a%2Fb?after=0']) {
    r = await get(u + q);
    t.check(`400 for ${q}`, r.status === 400, r.status);
  }

  // CORS: the configured origin is echoed and the ETag exposed; preflight.
  r = await get(`${u}/poll/news?after=0`, { headers: { Origin: ORIGIN } });
  t.check('cors: Allow-Origin', r.headers.get('access-control-allow-origin') === ORIGIN, r.headers.get('access-control-allow-origin'));
  t.check('cors: ETag exposed', (r.headers.get('access-control-expose-headers') ?? '').includes('ETag'));
  r = await get(`${u}/poll/news?after=0`, { headers: { Origin: 'http://evil.example' } });
  t.check('cors: other origins get none', r.headers.get('access-control-allow-origin') === null);
  r = await get(`${u}/longpoll/news`, {
    method: 'OPTIONS',
    headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'if-none-match' },
  });
  t.check('cors: preflight 204', r.status === 204, r.status);
  t.check('cors: preflight allows If-None-Match', r.headers.get('access-control-allow-headers') === 'If-None-Match');

  // Long poll: at once when events exist; else parked until a publish.
  r = await get(`${u}/longpoll/news?after=2`);
  t.check('long: at once when behind', JSON.parse(r.text).events[0].id === 3, r.text);
  const waiting = get(`${u}/longpoll/news?after=3&timeout_ms=10000`, { headers: { Origin: ORIGIN } });
  await until(async () => (await metric(u, PARKED)) === 1, 5000, 'one parked long poll');
  await publish(u, 'news', 'woken');
  r = await waiting;
  b = JSON.parse(r.text);
  t.check('long: woken by the publish', b.events.length === 1 && b.events[0].data === 'woken' && b.next === 4, r.text);
  t.check('long: CORS', r.headers.get('access-control-allow-origin') === ORIGIN);
  t.check('long: no parked left', (await metric(u, PARKED)) === 0);

  // Timeout: 300 ms as asked; 600 s clamped to --long-poll-max-ms 3000.
  let t0 = Date.now();
  r = await get(`${u}/longpoll/news?after=4&timeout_ms=300`);
  let took = Date.now() - t0;
  t.check('long: empty answer after timeout_ms', r.text === '{"events":[],"next":4,"reset":false}', r.text);
  t.check('long: not before timeout_ms', took >= 250, `${took} ms`);
  t0 = Date.now();
  r = await get(`${u}/longpoll/news?after=4&timeout_ms=600000`, { timeoutMs: 10000 });
  took = Date.now() - t0;
  t.check('long: clamped to --long-poll-max-ms', took >= 2900 && took < 8000 && JSON.parse(r.text).events.length === 0,
    `${took} ms`);

  // A fetch poll loop per transport, while 60 events are published: each sees
  // 5..64 exactly once, in order.
  const N = 60;
  const loop = async (kind) => {
    let cursor = 4;
    const seen = [];
    const end = Date.now() + 30000;
    while (cursor < 4 + N && Date.now() < end) {
      const q = kind === 'long' ? `/longpoll/news?after=${cursor}&timeout_ms=2000&limit=7` : `/poll/news?after=${cursor}&limit=5`;
      const res = await get(u + q);
      const body = JSON.parse(res.text);
      if (body.reset) throw new Error(`unexpected reset: ${res.text}`);
      for (const e of body.events) seen.push(e.id);
      cursor = body.next;
      if (kind === 'short' && body.events.length === 0) await new Promise((rr) => setTimeout(rr, 20));  // the poll interval
    }
    return seen;
  };
  const loops = [loop('short'), loop('long'), loop('long')];
  for (let i = 0; i < N; i++) await publish(u, 'news', `n${i}`);
  const expected = JSON.stringify(Array.from({ length: N }, (_, i) => 5 + i));
  for (const [i, s] of (await Promise.all(loops)).entries())
    t.check(`loop ${i}: every event once, in order`, JSON.stringify(s) === expected, JSON.stringify(s).slice(0, 200));

  // curl: short poll and a long poll woken by a publish.
  let c = await curl([`${u}/poll/news?after=${3 + N}`, '-H', `Origin: ${ORIGIN}`]);
  t.check('curl: short 200', c.code === 0 && /^HTTP\/1.1 200 OK\r\n/.test(c.out), c.out.slice(0, 200));
  t.check('curl: headers', /\r\nCache-Control: no-store\r\n/.test(c.out) && /\r\nETag: W\/"/.test(c.out) &&
    /\r\nAccess-Control-Allow-Origin: http:\/\/app.example\r\n/.test(c.out), c.out);
  t.check('curl: body', c.out.endsWith(`{"events":[{"id":${4 + N},"data":"n${N - 1}"}],"next":${4 + N},"reset":false}`), c.out);
  const cl = curl([`${u}/longpoll/news?after=${4 + N}&timeout_ms=10000`]);
  await until(async () => (await metric(u, PARKED)) === 1, 5000, 'curl parked');
  await publish(u, 'news', 'for curl');
  c = await cl;
  t.check('curl: long poll woken', c.out.endsWith(`{"events":[{"id":${5 + N},"data":"for curl"}],"next":${5 + N},"reset":false}`), c.out);

  // SIGTERM answers a parked long poll, then the demo exits 0.
  const parked = get(`${u}/longpoll/news?after=${5 + N}&timeout_ms=60000`);
  await until(async () => (await metric(u, PARKED)) === 1, 5000, 'parked before SIGTERM');
  const stopped = demo.stop();
  r = await parked;
  t.check('shutdown: parked poll answered', r.status === 200 && JSON.parse(r.text).events.length === 0, r.text);
  const how = await stopped;
  t.check('shutdown: exit 0', how.code === 0 && !how.killed, JSON.stringify(how));
});
