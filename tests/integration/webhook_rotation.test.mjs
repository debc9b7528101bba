// Signing-key rotation through herald-demo's routes: an endpoint registered
// with `keys`, PUT /hooks/endpoints/{id}/keys to {old, new} and then {new};
// each delivery is checked by the reference implementation (the
// standardwebhooks npm package) with the old secret and with the new one.
//
//   node webhook_rotation.test.mjs <herald-demo>
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import http from 'node:http';
import { startDemo, withTimeout, deferred, publish, run } from './lib.mjs';

const require = createRequire(import.meta.url);
const { Webhook } = require('standardwebhooks');

const TOPIC = 'rotation';
const secret = () => 'whsec_' + crypto.randomBytes(32).toString('base64');

/// Whether `secret` accepts the delivery (body and headers as received).
function accepts(secret, d) {
  try {
    new Webhook(secret).verify(d.body, d.headers);
    return true;
  } catch {
    return false;
  }
}

async function send(url, method, body) {
  const r = await withTimeout(fetch(url, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  }), 5000, `${method} ${url}`);
  return { status: r.status, text: await r.text() };
}

await run('webhook signing-key rotation', async (t) => {
  // The receiver hands each delivery to whoever waits for its event id,
  // whichever comes first: the delivery or the wait.
  const slots = new Map();  // event id -> deferred
  const slot = (id) => {
    if (!slots.has(id)) slots.set(id, deferred());
    return slots.get(id);
  };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      res.writeHead(204).end();
      let id;
      try { id = JSON.parse(body).data.id; } catch { return; }
      slot(id).resolve({ body, headers: req.headers });
    });
  });
  server.listen(0, '127.0.0.1');
  await withTimeout(new Promise((r) => server.once('listening', r)), 5000, 'receiver listening');
  t.defer(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  const hookUrl = `http://127.0.0.1:${server.address().port}/hook`;

  const demo = t.defer(await startDemo(process.argv[2], ['--allow-private-webhook-targets']));

  /// Publishes one event and returns its delivery.
  async function deliver(data) {
    const id = await publish(demo.url, TOPIC, data);
    return withTimeout(slot(id).promise, 10000, `delivery of event ${id}`);
  }

  const oldKey = secret(), newKey = secret();
  const bad = await send(`${demo.url}/hooks/endpoints`, 'POST', { url: hookUrl, topics: [TOPIC] });
  t.check('no key at all is 400', bad.status === 400, `${bad.status} ${bad.text}`);
  const reg = await send(`${demo.url}/hooks/endpoints`, 'POST', { url: hookUrl, keys: [oldKey], topics: [TOPIC] });
  t.check('registration with "keys" is 201', reg.status === 201, `${reg.status} ${reg.text}`);
  const endpoint = JSON.parse(reg.text).id;
  const keysUrl = `${demo.url}/hooks/endpoints/${endpoint}/keys`;

  let d = await deliver('before the rotation');
  t.check('before: the old secret accepts', accepts(oldKey, d));
  t.check('before: the new secret refuses', !accepts(newKey, d));

  let r = await send(keysUrl, 'PUT', { keys: [oldKey, newKey] });
  t.check('PUT {old, new} is 200', r.status === 200, `${r.status} ${r.text}`);
  d = await deliver('during the rotation');
  t.check('during: two signatures', d.headers['webhook-signature'].split(' ').length === 2, d.headers['webhook-signature']);
  t.check('during: the old secret accepts', accepts(oldKey, d));
  t.check('during: the new secret accepts', accepts(newKey, d));

  r = await send(keysUrl, 'PUT', { keys: [newKey] });
  t.check('PUT {new} is 200', r.status === 200, `${r.status} ${r.text}`);
  d = await deliver('after the rotation');
  t.check('after: the old secret refuses', !accepts(oldKey, d));
  t.check('after: the new secret accepts', accepts(newKey, d));

  r = await send(keysUrl, 'PUT', { keys: ['whsec_not base64!'] });
  t.check('a malformed key is 400', r.status === 400, `${r.status} ${r.text}`);
  r = await send(keysUrl, 'PUT', { keys: [] });
  t.check('an empty key list is 400', r.status === 400, `${r.status} ${r.text}`);
  r = await send(`${demo.url}/hooks/endpoints/nope/keys`, 'PUT', { keys: [newKey] });
  t.check('an unknown endpoint is 404', r.status === 404, `${r.status} ${r.text}`);
  d = await deliver('after the refused changes');
  t.check('refused changes keep the keys', accepts(newKey, d) && !accepts(oldKey, d));
});
