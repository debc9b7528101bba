// Cross-checks herald's webhook signatures against the reference implementations:
// the `standardwebhooks` npm package (v1, HMAC-SHA256) and Node's own ed25519
// (v1a; the npm package has no v1a). Both directions: herald signs and the
// reference verifies; the reference signs and herald verifies.
//
//   node webhook_signatures.test.mjs <herald-demo> <webhook_tool>
//
// argv[2] (herald-demo) is unused here; argv[3] is tests/tools/webhook_tool
// (or the HERALD_WEBHOOK_TOOL environment variable). Exits non-zero on any failure.
import { createRequire } from 'node:module';
import { execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { Webhook } = require('standardwebhooks');

const tool = process.argv[3] || process.env.HERALD_WEBHOOK_TOOL;
if (!tool || !fs.existsSync(tool)) {
  console.error(`webhook_signatures: the webhook_tool path is missing (argv[3] or HERALD_WEBHOOK_TOOL); got ${tool}`);
  process.exit(1);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-wh-'));
let files = 0;
function bodyFile(body) {
  const f = path.join(dir, `body${files++}`);
  fs.writeFileSync(f, body);
  return f;
}
// Runs the tool; returns { code, out }.
function run(...args) {
  try {
    return { code: 0, out: execFileSync(tool, args, { encoding: 'utf8' }).trim() };
  } catch (e) {
    return { code: e.status ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() };
  }
}

let passed = 0;
const failures = [];
function check(name, cond, detail = '') {
  if (cond) passed++;
  else failures.push(`${name}${detail ? `: ${detail}` : ''}`);
}

const now = Math.floor(Date.now() / 1000);
const bodies = [
  '{"test": 2432232314}',
  '',
  'plain text with spaces, commas, and "quotes"',
  '{"type":"herald.event","data":{"payload":"caf\u00e9 \u2713 \ud83d\ude80"}}',
  'line one\nline two\r\n',
  'x'.repeat(1024),
  JSON.stringify({ big: 'y'.repeat(70000) }),
];
const secrets = [
  'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  'whsec_' + crypto.randomBytes(24).toString('base64'),
  'whsec_' + crypto.randomBytes(32).toString('base64'),
  'whsec_' + crypto.randomBytes(64).toString('base64'),
  crypto.randomBytes(32).toString('base64'), // no prefix: still base64, as the reference accepts
];

// --- 0. The specification's own example, through the tool.
{
  const f = bodyFile('{"test": 2432232314}');
  const r = run('sign', 'msg_p5jXN8AQM9LWM0D4loKWxJek', '1614265330', f, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
  check('spec example', r.out === 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=', r.out);
  const v = run('verify', 'msg_p5jXN8AQM9LWM0D4loKWxJek', '1614265330', 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    f, '--now', '1614265330', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
  check('spec example verifies', v.code === 0, v.out);
}

// --- 1. v1: herald signs, standardwebhooks verifies (and signs identically).
for (const [si, secret] of secrets.entries()) {
  for (const [bi, body] of bodies.entries()) {
    const id = `msg_${si}_${bi}_${crypto.randomBytes(6).toString('hex')}`;
    const r = run('sign', id, String(now), bodyFile(body), secret);
    const name = `v1 herald->reference secret#${si} body#${bi}`;
    if (r.code !== 0) { check(name, false, r.out); continue; }
    const wh = new Webhook(secret);
    check(`${name} identical`, r.out === wh.sign(id, new Date(now * 1000), body), r.out);
    try {
      wh.verify(body, { 'webhook-id': id, 'webhook-timestamp': String(now), 'webhook-signature': r.out },
        { jsonParse: false });
      check(`${name} verifies`, true);
    } catch (e) {
      check(`${name} verifies`, false, e.message);
    }
    // A tampered body must not verify with the reference either: the check is real.
    let refused = false;
    try {
      wh.verify(body + ' ', { 'webhook-id': id, 'webhook-timestamp': String(now), 'webhook-signature': r.out },
        { jsonParse: false });
    } catch { refused = true; }
    check(`${name} tampered refused by reference`, refused);
  }
}

// --- 2. v1: standardwebhooks signs, herald verifies.
for (const [si, secret] of secrets.entries()) {
  for (const [bi, body] of bodies.entries()) {
    const id = `msg_ref_${si}_${bi}`;
    const sig = new Webhook(secret).sign(id, new Date(now * 1000), body);
    const name = `v1 reference->herald secret#${si} body#${bi}`;
    const f = bodyFile(body);
    const ok = run('verify', id, String(now), sig, f, secret);
    check(`${name} verifies`, ok.code === 0, ok.out);
    const tampered = run('verify', id, String(now), sig, bodyFile(body + 'x'), secret);
    check(`${name} tampered`, tampered.code === 1 && tampered.out.includes('mismatch'), tampered.out);
    const otherId = run('verify', id + 'x', String(now), sig, f, secret);
    check(`${name} other id`, otherId.code === 1, otherId.out);
  }
}

// --- 3. Timestamps: the reference's signature at +-6 minutes is stale for herald; +-4 minutes is fine.
{
  const secret = secrets[1];
  const body = bodies[0];
  const f = bodyFile(body);
  for (const [delta, expectOk] of [[-360, false], [360, false], [-240, true], [240, true]]) {
    const ts = now + delta;
    const sig = new Webhook(secret).sign('msg_time', new Date(ts * 1000), body);
    const r = run('verify', 'msg_time', String(ts), sig, f, '--now', String(now), secret);
    check(`timestamp ${delta}s`, expectOk ? r.code === 0 : r.code === 1 && r.out.includes('tolerance'), r.out);
  }
}

// --- 4. Rotation: herald signs with two secrets; the reference accepts with either.
{
  const [a, b] = [secrets[2], secrets[3]];
  const body = bodies[3];
  const r = run('sign', 'msg_rot', String(now), bodyFile(body), a, b);
  check('rotation: two entries', r.out.split(' ').length === 2 && r.out.split(' ').every((e) => e.startsWith('v1,')), r.out);
  for (const s of [a, b]) {
    try {
      new Webhook(s).verify(body, { 'webhook-id': 'msg_rot', 'webhook-timestamp': String(now), 'webhook-signature': r.out },
        { jsonParse: false });
      check('rotation: reference verifies with each secret', true);
    } catch (e) {
      check('rotation: reference verifies with each secret', false, e.message);
    }
  }
  // And herald accepts a header where only the second entry is valid, behind an unknown scheme.
  const sig = new Webhook(b).sign('msg_rot', new Date(now * 1000), body);
  const v = run('verify', 'msg_rot', String(now), `v9,xyz v1,${'A'.repeat(43)}= ${sig}`, bodyFile(body), b);
  check('rotation: herald skips unknown and wrong entries', v.code === 0, v.out);
}

// --- 5. v1a: herald signs, Node's ed25519 verifies.
function pubKeyFromRaw(raw) {
  return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}
{
  const kg = run('keygen');
  const [whsk, whpk] = kg.out.split(' ');
  check('keygen', kg.code === 0 && whsk?.startsWith('whsk_') && whpk?.startsWith('whpk_'), kg.out);
  if (whsk?.startsWith('whsk_') && whpk?.startsWith('whpk_')) v1aHeraldSigns(whsk, whpk);
}
function v1aHeraldSigns(whsk, whpk) {
  const pub = pubKeyFromRaw(Buffer.from(whpk.slice(5), 'base64'));
  const sk = Buffer.from(whsk.slice(5), 'base64');
  check('whsk is seed + public key', sk.length === 64 && sk.subarray(32).equals(Buffer.from(whpk.slice(5), 'base64')));
  check('pubkey', run('pubkey', whsk).out === whpk);
  for (const [bi, body] of bodies.entries()) {
    const id = `msg_v1a_${bi}`;
    const r = run('sign', id, String(now), bodyFile(body), whsk);
    const name = `v1a herald->node body#${bi}`;
    check(`${name} form`, /^v1a,[A-Za-z0-9+/]{86}==$/.test(r.out), r.out);
    const sig = Buffer.from(r.out.slice(4), 'base64');
    const data = Buffer.from(`${id}.${now}.${body}`);
    check(`${name} verifies`, crypto.verify(null, data, pub, sig));
    check(`${name} tampered refused`, !crypto.verify(null, Buffer.from(`${id}.${now}.${body}!`), pub, sig));
    // Our own verifier agrees.
    const v = run('verify', id, String(now), r.out, bodyFile(body), whpk);
    check(`${name} herald verifies`, v.code === 0, v.out);
  }
}

// --- 6. v1a: Node signs, herald verifies; ed25519 is deterministic, so herald's signature is identical.
{
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d, 'base64url');
  const pubRaw = Buffer.from(jwk.x, 'base64url');
  const whsk32 = 'whsk_' + seed.toString('base64');
  const whsk64 = 'whsk_' + Buffer.concat([seed, pubRaw]).toString('base64');
  const whpk = 'whpk_' + pubRaw.toString('base64');
  check('pubkey from a Node seed', run('pubkey', whsk32).out === whpk);
  for (const [bi, body] of bodies.entries()) {
    const id = `msg_node_${bi}`;
    const sig = crypto.sign(null, Buffer.from(`${id}.${now}.${body}`), privateKey).toString('base64');
    const header = `v1a,${sig}`;
    const name = `v1a node->herald body#${bi}`;
    const f = bodyFile(body);
    const v = run('verify', id, String(now), header, f, whpk);
    check(`${name} verifies`, v.code === 0, v.out);
    const t = run('verify', id, String(now), header, bodyFile(body + '!'), whpk);
    check(`${name} tampered`, t.code === 1, t.out);
    for (const k of [whsk32, whsk64]) {
      const ours = run('sign', id, String(now), f, k);
      check(`${name} identical signature (${k.length > 60 ? 64 : 32}-byte key)`, ours.out === header, ours.out);
    }
    check(`${name} node self-check`, crypto.verify(null, Buffer.from(`${id}.${now}.${body}`), publicKey, Buffer.from(sig, 'base64')));
  }
  // A v1a header with only HMAC secrets on the receiving side is refused.
  const sig = crypto.sign(null, Buffer.from(`msg_x.${now}.{}`), privateKey).toString('base64');
  const r = run('verify', 'msg_x', String(now), `v1a,${sig}`, bodyFile('{}'), secrets[0]);
  check('v1a without public keys is refused', r.code === 1, r.out);
}

// --- 7. A real delivery during a rotation: herald's Sender (webhook_tool deliver)
// posts to a Node server with the old secret, the new secret and an ed25519 key;
// the reference verifies it with the old secret alone and with the new one alone.
{
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/hook`;
  const deliver = (...keys) => new Promise((resolve) => {
    execFile(tool, ['deliver', url, 'caf\u00e9 "rotation"', ...keys], { encoding: 'utf8' },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? -1) : 0, out: `${stdout}${stderr}`.trim() }));
  });
  const [oldSecret, newSecret] = [secrets[0], secrets[2]];
  const kg = run('keygen');
  const [whsk, whpk] = kg.out.split(' ');
  const steps = [
    { name: 'rotation start (old + new + v1a)', keys: [oldSecret, newSecret, whsk], old: true },
    { name: 'rotation end (new only)', keys: [newSecret], old: false },
  ];
  for (const step of steps) {
    const before = received.length;
    const r = await deliver(...step.keys);
    check(`delivery ${step.name}: sent`, r.code === 0 && received.length === before + 1, r.out);
    if (received.length !== before + 1) continue;
    const { headers, body } = received[before];
    const hs = { 'webhook-id': headers['webhook-id'], 'webhook-timestamp': headers['webhook-timestamp'],
      'webhook-signature': headers['webhook-signature'] };
    check(`delivery ${step.name}: one entry per key`, hs['webhook-signature'].split(' ').length === step.keys.length,
      hs['webhook-signature']);
    const accepts = (secret) => {
      try {
        new Webhook(secret).verify(body, hs, { jsonParse: false });
        return true;
      } catch {
        return false;
      }
    };
    check(`delivery ${step.name}: reference verifies with the new secret`, accepts(newSecret));
    check(`delivery ${step.name}: reference ${step.old ? 'verifies' : 'refuses'} with the old secret`,
      accepts(oldSecret) === step.old);
    check(`delivery ${step.name}: reference refuses another secret`, !accepts(secrets[1]));
    check(`delivery ${step.name}: body is the event`, JSON.parse(body).data?.payload === 'caf\u00e9 "rotation"', body);
    if (step.keys.includes(whsk)) {
      const v1a = hs['webhook-signature'].split(' ').find((e) => e.startsWith('v1a,'));
      const pub = pubKeyFromRaw(Buffer.from(whpk.slice(5), 'base64'));
      const data = Buffer.from(`${hs['webhook-id']}.${hs['webhook-timestamp']}.${body}`);
      check(`delivery ${step.name}: Node ed25519 verifies the v1a entry`,
        !!v1a && crypto.verify(null, data, pub, Buffer.from(v1a.slice(4), 'base64')), v1a);
    }
  }
  server.close();
}

fs.rmSync(dir, { recursive: true, force: true });
const total = passed + failures.length;
if (failures.length) {
  console.error(`webhook_signatures: ${failures.length} of ${total} checks FAILED`);
  for (const f of failures) console.error(`  FAIL ${f}`);
  process.exit(1);
}
console.log(`webhook_signatures: all ${total} checks passed (standardwebhooks v1 both ways, Node ed25519 v1a both ways, a rotated Sender delivery)`);
