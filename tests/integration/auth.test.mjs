// herald-demo with --auth-secret: every transport (SSE, WebSocket, short and
// long polling, publish, webhook endpoint registration) refuses a missing,
// forged, expired or re-algorithmed token with 401 and a token for another
// topic with 403; a valid token works from the header, the query and a
// cookie; a token lapsing while a stream is open ends it (SSE: the response
// ends; WebSocket: close 1008); a foreign Origin is refused (WebSocket 403,
// no CORS grant for SSE); /ws/echo, /healthz, /metrics and / stay open.
// Tokens are signed here with node:crypto (HS256 is one HMAC).
//
//   node auth.test.mjs <herald-demo>
import crypto from 'node:crypto';
import { createRequire } from 'node:module';

import { startDemo, withTimeout, run } from './lib.mjs';

const require = createRequire(new URL('../package.json', import.meta.url));
const WebSocket = require('ws');
const demoPath = process.argv[2];
const T = 10000;
const SECRET = crypto.randomBytes(32).toString('base64');
const AUD = 'herald-test';

const b64 = (s) => Buffer.from(s).toString('base64url');
function sign(payload, { secret = SECRET, header = { alg: 'HS256', typ: 'JWT' } } = {}) {
  const signing = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}`;
  return `${signing}.${crypto.createHmac('sha256', secret).update(signing).digest('base64url')}`;
}
const now = () => Math.floor(Date.now() / 1000);
function token(perms, { ttl = 300, aud = AUD, ...opts } = {}) {
  return sign({ exp: now() + ttl, aud, herald: perms }, opts);
}
/// The same token with its header naming another algorithm (signature kept).
function withAlg(tok, alg) {
  return `${b64(JSON.stringify({ alg, typ: 'JWT' }))}.${tok.split('.').slice(1).join('.')}`;
}

/// Adds the token to a URL and headers as `where` says.
function place(url, headers, tok, where) {
  if (!tok) return { url, headers };
  if (where === 'header') return { url, headers: { ...headers, Authorization: `Bearer ${tok}` } };
  if (where === 'cookie') return { url, headers: { ...headers, Cookie: `x=1; herald_token=${tok}` } };
  return { url: `${url}${url.includes('?') ? '&' : '?'}access_token=${tok}`, headers };
}

/// Status and headers of an HTTP request; a streaming body is cancelled.
async function http(method, url, { headers = {}, body } = {}) {
  const ac = new AbortController();
  const r = await withTimeout(fetch(url, { method, headers, body, signal: ac.signal }), T, `${method} ${url}`);
  const h = Object.fromEntries(r.headers);
  ac.abort();
  return { status: r.status, headers: h };
}

/// Opens a WebSocket; resolves with {status} (refused) or {ws, next(), closed}.
function wsOpen(url, headers = {}) {
  return withTimeout(new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    const queue = [], waiters = [];
    ws.on('message', (d) => { const m = d.toString(); if (waiters.length) waiters.shift()(m); else queue.push(m); });
    const closed = new Promise((r) => ws.on('close', (code) => r(code)));
    ws.once('open', () => resolve({
      status: 101, ws, closed: withTimeout(closed, T, `close of ${url}`),
      next: () => withTimeout(queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)), T, 'ws message'),
    }));
    ws.once('unexpected-response', (_req, res) => { resolve({ status: res.statusCode, headers: res.headers }); res.resume(); });
    ws.once('error', (e) => resolve({ status: 0, error: e.message }));
  }), T, `open ${url}`);
}

await run('auth (herald-demo --auth-secret)', async (t) => {
  const demo = t.defer(await startDemo(demoPath, [
    '--auth-secret', SECRET, '--auth-audience', AUD, '--allow-private-webhook-targets',
    '--ws-origin', 'http://app.example', '--cors-origin', 'http://app.example']));
  const ws = demo.url.replace('http://', 'ws://');
  const right = { subscribe: ['chat.*'], publish: ['chat.*'] };
  const good = token(right);
  const bad = [
    ['no token', '', 401],
    ['forged', token(right, { secret: 'not the secret' }), 401],
    ['expired', token(right, { ttl: -300 }), 401],
    ['alg none', withAlg(good, 'none'), 401],
    ['alg HS512', withAlg(good, 'HS512'), 401],
    ['alg RS256', withAlg(good, 'RS256'), 401],
    ['wrong audience', token(right, { aud: 'someone-else' }), 401],
    ['another topic', token({ subscribe: ['news'], publish: ['news'] }), 403],
  ];
  const secret = `whsec_${crypto.randomBytes(24).toString('base64')}`;
  const hook = JSON.stringify({ url: 'http://127.0.0.1:9/hook', secret, topics: ['chat.room1'] });
  const httpEndpoints = [
    ['sse', 'GET', `${demo.url}/sse/chat.room1`, 200],
    ['short poll', 'GET', `${demo.url}/poll/chat.room1?after=0`, 200],
    ['long poll', 'GET', `${demo.url}/longpoll/chat.room1?after=0&timeout_ms=0`, 200],
    ['publish', 'POST', `${demo.url}/publish/chat.room1`, 202, 'x'],
    ['webhook registration', 'POST', `${demo.url}/hooks/endpoints`, 201, hook],
  ];

  for (const [name, method, url, ok, body] of httpEndpoints) {
    for (const [what, tok, status] of bad) {
      const p = place(url, { 'Content-Type': 'application/json' }, tok, 'header');
      const r = await http(method, p.url, { headers: p.headers, body });
      t.check(`${name}: ${what} -> ${status}`, r.status === status, `got ${r.status}`);
      t.check(`${name}: ${what} has WWW-Authenticate`, (r.headers['www-authenticate'] ?? '').startsWith('Bearer'),
        r.headers['www-authenticate']);
    }
    for (const where of ['header', 'query', 'cookie']) {
      const p = place(url, { 'Content-Type': 'application/json' }, good, where);
      const r = await http(method, p.url, { headers: p.headers, body });
      t.check(`${name}: valid token in the ${where} -> ${ok}`, r.status === ok, `got ${r.status}`);
    }
  }
  // A webhook endpoint for two topics needs both.
  {
    const two = JSON.stringify({ url: 'http://127.0.0.1:9/hook', secret, topics: ['chat.room1', 'news'] });
    const r = await http('POST', `${demo.url}/hooks/endpoints`, {
      headers: { Authorization: `Bearer ${good}`, 'Content-Type': 'application/json' }, body: two });
    t.check('webhook registration: one topic outside the token -> 403', r.status === 403, `got ${r.status}`);
  }
  // Changing an endpoint's signing keys needs the same rights as registering it.
  {
    const reg = await withTimeout(fetch(`${demo.url}/hooks/endpoints`, {
      method: 'POST', headers: { Authorization: `Bearer ${good}`, 'Content-Type': 'application/json' }, body: hook,
    }), T, 'register an endpoint');
    const { id } = await reg.json();
    const keys = JSON.stringify({ keys: [`whsec_${crypto.randomBytes(24).toString('base64')}`] });
    for (const [what, tok, status] of bad) {
      const p = place(`${demo.url}/hooks/endpoints/${id}/keys`, { 'Content-Type': 'application/json' }, tok, 'header');
      const r = await http('PUT', p.url, { headers: p.headers, body: keys });
      t.check(`webhook keys: ${what} -> ${status}`, r.status === status, `got ${r.status}`);
    }
    const r = await http('PUT', `${demo.url}/hooks/endpoints/${id}/keys`, {
      headers: { Authorization: `Bearer ${good}`, 'Content-Type': 'application/json' }, body: keys });
    t.check('webhook keys: valid token -> 200', r.status === 200, `got ${r.status}`);
  }

  // WebSocket: the handshake subscribes.
  for (const [what, tok, status] of bad) {
    const p = place(`${ws}/ws/topic/chat.room1`, {}, tok, 'header');
    const r = await wsOpen(p.url, p.headers);
    t.check(`websocket: ${what} -> ${status}`, r.status === status, `got ${r.status} ${r.error ?? ''}`);
    r.ws?.close();
  }
  for (const where of ['header', 'query', 'cookie']) {
    const p = place(`${ws}/ws/topic/chat.room1`, {}, good, where);
    const r = await wsOpen(p.url, p.headers);
    t.check(`websocket: valid token in the ${where} -> 101`, r.status === 101, `got ${r.status}`);
    if (r.ws) {
      r.ws.send(`hello from ${where}`);  // publishes (the token allows chat.*) and comes back
      t.check(`websocket: message published (${where})`, (await r.next()) === `hello from ${where}`);
      r.ws.close();
      await r.closed;
    }
  }
  {
    const reader = token({ subscribe: ['chat.*'] });
    const r = await wsOpen(`${ws}/ws/topic/chat.room1?access_token=${reader}`);
    t.check('websocket: subscribe-only token opens', r.status === 101, `got ${r.status}`);
    if (r.ws) {
      r.ws.send('not allowed');
      const code = await r.closed;
      t.check('websocket: a message without a publish grant -> close 1008', code === 1008, `code ${code}`);
    }
  }

  // A token lapsing while open: exp 28 s ago is still within the 30 s leeway,
  // so the permission lapses within about 2 s (the demo has no test clock).
  {
    const lapsing = token(right, { ttl: -28 });
    const r = await wsOpen(`${ws}/ws/topic/chat.room1?access_token=${lapsing}`);
    t.check('websocket: lapsing token opens', r.status === 101, `got ${r.status}`);
    if (r.ws) t.check('websocket: closed 1008 when the token lapses', (await r.closed) === 1008);

    const lapsingToo = token(right, { ttl: -28 });  // the first one has lapsed by now
    const res = await withTimeout(fetch(`${demo.url}/sse/chat.room1?access_token=${lapsingToo}`), T, 'sse lapsing');
    t.check('sse: lapsing token opens', res.status === 200, `got ${res.status}`);
    const ended = await withTimeout((async () => {
      const reader = res.body.getReader();
      for (;;) if ((await reader.read()).done) return true;
    })(), T, 'sse stream to end when its token lapses');
    t.check('sse: the response ends when the token lapses', ended);
  }

  // Origins: the WebSocket allowlist, and CORS on SSE.
  {
    const foreign = await wsOpen(`${ws}/ws/topic/chat.room1?access_token=${good}`, { Origin: 'http://evil.example' });
    t.check('websocket: foreign Origin -> 403 even with a valid token', foreign.status === 403, `got ${foreign.status}`);
    const listed = await wsOpen(`${ws}/ws/topic/chat.room1?access_token=${good}`, { Origin: 'http://app.example' });
    t.check('websocket: listed Origin -> 101', listed.status === 101, `got ${listed.status}`);
    listed.ws?.close();
    const evilSse = await http('GET', `${demo.url}/sse/chat.room1?access_token=${good}`, { headers: { Origin: 'http://evil.example' } });
    t.check('sse: foreign Origin gets no CORS grant', !('access-control-allow-origin' in evilSse.headers),
      JSON.stringify(evilSse.headers));
    const appSse = await http('GET', `${demo.url}/sse/chat.room1`, { headers: { Origin: 'http://app.example' } });
    t.check('sse: a refusal to a listed Origin is readable (CORS + credentials)',
      appSse.status === 401 && appSse.headers['access-control-allow-origin'] === 'http://app.example' &&
      appSse.headers['access-control-allow-credentials'] === 'true', JSON.stringify(appSse));
    const pre = await http('OPTIONS', `${demo.url}/publish/chat.room1`, { headers: {
      Origin: 'http://app.example', 'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization, content-type' } });
    t.check('publish: preflight grants Authorization to a listed Origin',
      pre.status === 204 && /Authorization/.test(pre.headers['access-control-allow-headers'] ?? ''), JSON.stringify(pre));
  }

  // What stays open.
  for (const path of ['/healthz', '/metrics', '/']) {
    const r = await http('GET', `${demo.url}${path}`);
    t.check(`${path} stays open`, r.status === 200, `got ${r.status}`);
  }
  {
    const echo = await wsOpen(`${ws}/ws/echo`);
    t.check('/ws/echo stays open', echo.status === 101, `got ${echo.status}`);
    if (echo.ws) {
      echo.ws.send('echo?');
      t.check('/ws/echo echoes', (await echo.next()) === 'echo?');
      echo.ws.close();
    }
  }
  const metrics = await (await fetch(`${demo.url}/metrics`)).text();
  const denied = Number(/herald_auth_denied_total (\d+)/.exec(metrics)?.[1]);
  t.check('metrics count the refusals', denied >= bad.length * (httpEndpoints.length + 1), `herald_auth_denied_total ${denied}`);
});
