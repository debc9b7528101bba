// The durable outbox under SIGKILL: herald-demo with --data-dir delivers N
// events to a local receiver, is killed with SIGKILL in the middle of the
// deliveries, restarts on the same data directory, and every event still
// arrives at least once, each with a signature the reference implementation
// (the standardwebhooks npm package) accepts and one webhook-id per event.
//
//   node webhook_kill.test.mjs <herald-demo>
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startDemo, withTimeout, publish, run } from './lib.mjs';

const require = createRequire(import.meta.url);
const { Webhook } = require('standardwebhooks');

const N = 300;
const TOPIC = 'orders';
const SCHEDULE = '0s,200ms,500ms,1s,1s,1s,1s,1s,1s,1s,1s,1s';

/// Polls `f` (async, truthy when done) every 20 ms, at most `ms`.
async function until(f, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await delay(20);
  }
}

async function getJson(url) {
  const r = await withTimeout(fetch(url), 5000, `GET ${url}`);
  return { status: r.status, body: r.status === 200 ? await r.json() : await r.text() };
}

await run('webhook outbox survives SIGKILL', async (t) => {
  const demoPath = process.argv[2];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-kill-'));
  t.defer(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const secret = 'whsec_' + crypto.randomBytes(32).toString('base64');
  const verifier = new Webhook(secret);

  // The receiver: verifies every request, answers 503 to a first attempt now
  // and then (so retries are part of the run), and answers slowly enough
  // that the kill lands while deliveries are in progress.
  const got = new Map();        // event id -> Set of webhook-ids
  const attempts = new Map();   // webhook-id -> attempts seen
  let requests = 0, badSignatures = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      requests++;
      const body = Buffer.concat(chunks).toString('utf8');
      let evt;
      try {
        evt = verifier.verify(body, req.headers);
      } catch {
        badSignatures++;
        res.writeHead(401).end();
        return;
      }
      const msgId = req.headers['webhook-id'];
      const n = (attempts.get(msgId) ?? 0) + 1;
      attempts.set(msgId, n);
      const id = evt.data.id;
      setTimeout(() => {
        if (n === 1 && id % 7 === 0) return res.writeHead(503).end('try later');
        if (!got.has(id)) got.set(id, new Set());
        got.get(id).add(msgId);
        res.writeHead(204).end();
      }, 40);
    });
  });
  server.listen(0, '127.0.0.1');
  await withTimeout(new Promise((r) => server.once('listening', r)), 5000, 'receiver listening');
  t.defer(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  const hookUrl = `http://127.0.0.1:${server.address().port}/hook`;

  const args = ['--data-dir', dataDir, '--allow-private-webhook-targets', '--webhook-retry-schedule', SCHEDULE,
                '--threads', '2'];
  const first = await startDemo(demoPath, args);
  t.defer(first);

  const reg = await withTimeout(fetch(`${first.url}/hooks/endpoints`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ url: hookUrl, secret, topics: [TOPIC] }),
  }), 5000, 'register endpoint');
  t.check('registration is 201', reg.status === 201, `${reg.status}`);
  const { id: endpoint } = await reg.json();
  t.check('endpoint id returned', typeof endpoint === 'string' && endpoint.length > 0);

  for (let i = 1; i <= N; i++) {
    const id = await publish(first.url, TOPIC, JSON.stringify({ order: i, note: `caf\u00e9 #${i}` }));
    if (id !== i) throw new Error(`publish ${i} got id ${id}`);
  }
  // Accepted = committed to the outbox: from here every event must survive.
  await until(async () => {
    const s = (await getJson(`${first.url}/hooks/endpoints/${endpoint}`)).body;
    return s.delivered + s.pending + s.retrying + s.dead === N;
  }, 10000, 'all events accepted into the outbox');

  // Kill in the middle of the deliveries.
  await until(async () => got.size >= 20, 20000, 'first deliveries');
  first.proc.kill('SIGKILL');
  const killed = await withTimeout(new Promise((r) => first.proc.once('exit', (c, s) => r(s))), 5000, 'exit after SIGKILL');
  t.check('killed by SIGKILL', killed === 'SIGKILL', `${killed}`);
  const atKill = got.size;
  t.check('the kill landed during deliveries', atKill < N, `${atKill} of ${N} already delivered`);
  t.log(`delivered before the kill: ${atKill}/${N}, requests ${requests}`);

  const second = await startDemo(demoPath, args);
  t.defer(second);
  const after = await getJson(`${second.url}/hooks/endpoints/${endpoint}`);
  t.check('the endpoint survived the restart', after.status === 200, `${after.status} ${JSON.stringify(after.body)}`);

  await until(async () => {
    for (let i = 1; i <= N; i++) if (!got.has(i)) return false;
    return true;
  }, 90000, `every event id 1..${N} delivered (have ${got.size})`);

  const missing = [];
  for (let i = 1; i <= N; i++) if (!got.has(i)) missing.push(i);
  t.check('no event lost', missing.length === 0, `missing ${missing.slice(0, 10)}`);
  t.check('every signature verified with standardwebhooks', badSignatures === 0, `${badSignatures} bad`);
  const multi = [...got.entries()].filter(([, ids]) => ids.size !== 1);
  t.check('one webhook-id per event, across the restart', multi.length === 0, JSON.stringify(multi.slice(0, 3)));
  const retried = [...attempts.values()].filter((n) => n > 1).length;
  t.check('some deliveries were retried', retried > 0, `${retried}`);
  const final = (await until(async () => {
    const s = (await getJson(`${second.url}/hooks/endpoints/${endpoint}`)).body;
    return s.pending + s.retrying === 0 ? s : null;
  }, 20000, 'outbox drained'));
  t.check('nothing dead-lettered', final.dead === 0, JSON.stringify(final));
  t.log(`requests ${requests}, events ${got.size}, duplicates ${[...attempts.values()].reduce((a, n) => a + n, 0) - got.size}`);

  const stopped = await second.stop();
  t.check('SIGTERM exits 0', stopped.code === 0 && !stopped.killed, JSON.stringify(stopped));
});
