// POST /hooks/in of herald-demo, signed by the reference implementation (the
// standardwebhooks npm package): a valid delivery is 2xx and published to
// topic `webhooks` once; a repeat is 2xx and not published again; a bad
// signature, a tampered body, a stale or future timestamp and each missing
// header are 4xx with nothing published. Without --webhook-secret: 404.
//
//   node webhook_inbound.test.mjs <herald-demo>
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { startDemo, withTimeout, run } from './lib.mjs';

const require = createRequire(import.meta.url);
const { Webhook } = require('standardwebhooks');

await run('webhook receiver (POST /hooks/in)', async (t) => {
  const demoPath = process.argv[2];
  const secret = 'whsec_' + crypto.randomBytes(32).toString('base64');
  const signer = new Webhook(secret);
  const stranger = new Webhook('whsec_' + crypto.randomBytes(32).toString('base64'));

  const plain = t.defer(await startDemo(demoPath));
  const r404 = await withTimeout(fetch(`${plain.url}/hooks/in`, { method: 'POST', body: '{}' }), 5000, 'POST /hooks/in');
  t.check('without --webhook-secret /hooks/in is 404', r404.status === 404, `${r404.status}`);
  await plain.stop();

  const demo = t.defer(await startDemo(demoPath, ['--webhook-secret', secret]));
  const post = async (headers, body) => {
    const r = await withTimeout(fetch(`${demo.url}/hooks/in`, { method: 'POST', headers, body }), 5000, 'POST /hooks/in');
    await r.text();
    return r.status;
  };
  const signed = (id, body, { when = new Date(), by = signer, signedBody = body } = {}) => ({
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(when.getTime() / 1000)),
    'webhook-signature': by.sign(id, when, signedBody),
  });
  const events = async () => {
    const r = await withTimeout(fetch(`${demo.url}/poll/webhooks?after=0`), 5000, 'GET /poll/webhooks');
    return (await r.json()).events.map((e) => e.data);
  };
  const until = async (f, ms, what) => {
    const end = Date.now() + ms;
    for (;;) {
      if (await f()) return;
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
      await delay(20);
    }
  };

  const first = JSON.stringify({ type: 'payment.succeeded', amount: 4200, note: 'caf\u00e9' });
  const s1 = await post(signed('msg_first', first), first);
  t.check('valid delivery is 2xx', s1 >= 200 && s1 < 300, `${s1}`);
  await until(async () => (await events()).length === 1, 5000, 'the valid body published');
  const s2 = await post(signed('msg_first', first), first);
  t.check('a repeat is 2xx', s2 >= 200 && s2 < 300, `${s2}`);

  const bad = [
    ['bad signature', signed('msg_bad', first, { by: stranger }), first],
    ['tampered body', signed('msg_tamper', first), first.replace('4200', '9999')],
    ['stale timestamp', signed('msg_stale', first, { when: new Date(Date.now() - 6 * 60 * 1000) }), first],
    ['future timestamp', signed('msg_future', first, { when: new Date(Date.now() + 6 * 60 * 1000) }), first],
  ];
  for (const h of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    const headers = signed(`msg_no_${h}`, first);
    delete headers[h];
    bad.push([`missing ${h}`, headers, first]);
  }
  for (const [name, headers, body] of bad) {
    const s = await post(headers, body);
    t.check(`${name} is 4xx`, s >= 400 && s < 500, `${s}`);
  }

  // A last valid delivery: once it is published, anything published by the
  // requests before it would be there too.
  const sentinel = JSON.stringify({ type: 'sentinel' });
  const s3 = await post(signed('msg_sentinel', sentinel), sentinel);
  t.check('sentinel is 2xx', s3 >= 200 && s3 < 300, `${s3}`);
  await until(async () => (await events()).includes(sentinel), 5000, 'the sentinel published');
  const got = await events();
  t.check('published exactly the two valid bodies, once each', got.length === 2 && got[0] === first && got[1] === sentinel,
    JSON.stringify(got));

  const metrics = await (await withTimeout(fetch(`${demo.url}/metrics`), 5000, 'GET /metrics')).text();
  const value = (name) => Number((new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics) ?? [])[1]);
  t.check('webhooks_received counts valid deliveries and the repeat', value('herald_webhooks_received_total') === 3,
    `${value('herald_webhooks_received_total')}`);
  t.check('webhooks_rejected counts every refusal', value('herald_webhooks_rejected_total') === bad.length,
    `${value('herald_webhooks_rejected_total')}`);
});
