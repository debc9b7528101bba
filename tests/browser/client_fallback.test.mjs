// herald.js falls back between transports in the middle of a stream and
// carries one cursor across: nothing lost, nothing repeated.
//
// The page (/client.html, the client playground) is loaded through a TCP proxy
// in front of herald-demo that can block a transport the way a corporate proxy
// or firewall does: it cuts the open connections of that kind and refuses new
// ones (WebSocket: any `GET /ws/...`; SSE: any `GET /sse/...`). Events are
// published the whole time; the page must show every id once, in order, and
// the transport each came over must go websocket -> sse -> longpoll.
// Screenshots: client-fallback.png, client-fallback-ws-to-longpoll.png.
//   node tests/browser/client_fallback.test.mjs path/to/herald-demo
import net from 'node:net';
import { launchBrowser, publish, run, screenshot, startDemo, withTimeout } from './lib.mjs';

/// A TCP proxy on 127.0.0.1 that classifies each request by its request line
/// and can block a kind ('ws' or 'sse'): block() cuts those connections now
/// and refuses them from then on.
async function startProxy(targetPort) {
  const conns = new Set();
  const blocked = new Set();
  const kindOf = (chunk) => {
    const head = chunk.toString('latin1', 0, Math.min(chunk.length, 64));
    if (/^GET \/ws\//.test(head)) return 'ws';
    if (/^GET \/sse\//.test(head)) return 'sse';
    return /^[A-Z]+ \//.test(head) ? 'http' : null;  // null: the body of a request, or WebSocket frames
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const c = { client, upstream, kind: 'http' };
    conns.add(c);
    const drop = () => { conns.delete(c); client.destroy(); upstream.destroy(); };
    client.on('data', (chunk) => {
      const k = c.kind === 'ws' ? null : kindOf(chunk);  // after an upgrade, only frames follow
      if (k) c.kind = k;
      if (blocked.has(c.kind)) return drop();
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('error', drop); upstream.on('error', drop);
    client.on('close', drop); upstream.on('close', drop);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    block(kind) {
      blocked.add(kind);
      for (const c of [...conns]) if (c.kind === kind) { conns.delete(c); c.client.destroy(); c.upstream.destroy(); }
    },
    stop() {
      for (const c of conns) { c.client.destroy(); c.upstream.destroy(); }
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/// What the playground shows: [{id, data, transport}] in page order.
const shown = (page) => page.$$eval('#playground .events li[data-id]', (lis) => lis.map((li) => ({
  id: Number(li.dataset.id), data: li.querySelector('.text').textContent, transport: li.dataset.transport,
})));

/// Waits (bounded) until `pred(events)` holds for what the page shows.
async function waitFor(page, what, pred, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const ev = await shown(page);
    if (pred(ev)) return ev;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}; page shows ${ev.length} events, last ${JSON.stringify(ev.at(-1))}`);
    await page.waitForTimeout(50);  // a poll interval of this loop, not a synchronisation
  }
}

/// Publishes e1, e2, ... in order; `background()` keeps publishing every
/// ~20 ms until stopped, so switches happen while events are flowing.
function publisher(url, topic) {
  let k = 0, running = null, stop = false;
  const one = async () => { k++; await publish(url, topic, `e${k}`); };
  return {
    get count() { return k; },
    async burst(n) { for (let i = 0; i < n; i++) await one(); },
    background() {
      stop = false;
      running = (async () => { while (!stop) { await one(); await new Promise((r) => setTimeout(r, 20)); } })();
    },
    async halt() { stop = true; await running; },
  };
}

function checkStream(t, label, events, total, order) {
  const ids = events.map((e) => e.id);
  t.check(`${label}: ${total} events, every id once, in order`,
    JSON.stringify(ids) === JSON.stringify(Array.from({ length: total }, (_, i) => i + 1)),
    `got ${ids.length}: ${JSON.stringify(ids).slice(0, 400)}`);
  t.check(`${label}: each event's data matches its id`, events.every((e) => e.data === `e${e.id}`));
  // The transports, collapsed into runs, must be exactly `order`.
  const runs = events.map((e) => e.transport).filter((tr, i, a) => i === 0 || a[i - 1] !== tr);
  t.check(`${label}: transports ${order.join(' -> ')}`, JSON.stringify(runs) === JSON.stringify(order), JSON.stringify(runs));
}

await run('herald.js transport fallback', async (t) => {
  const demo = t.defer(await startDemo(process.argv[2]));
  const browser = t.defer(await launchBrowser());

  // 1. websocket -> sse -> longpoll, each switch while events flow.
  {
    const proxy = t.defer(await startProxy(demo.port));
    const page = await browser.newPage();
    await withTimeout(page.goto(`${proxy.url}/client.html?topic=fall&transports=websocket,sse,longpoll`), 15000, 'open client.html');
    await page.waitForSelector('#playground .state.open', { timeout: 10000 });
    const pub = publisher(demo.url, 'fall');
    await pub.burst(10);
    await waitFor(page, '10 events over websocket', (ev) => ev.length >= 10);
    t.check('starts on websocket', (await shown(page)).every((e) => e.transport === 'websocket'));

    pub.background();
    proxy.block('ws');  // mid-stream: the open WebSocket is cut, new ones refused
    await waitFor(page, '5 events over sse', (ev) => ev.filter((e) => e.transport === 'sse').length >= 5);
    proxy.block('sse');  // mid-stream again
    await waitFor(page, '5 events over long polling', (ev) => ev.filter((e) => e.transport === 'longpoll').length >= 5);
    await pub.halt();
    await pub.burst(5);
    const events = await waitFor(page, `all ${pub.count} events`, (ev) => ev.length >= pub.count && ev.at(-1).id >= pub.count);
    checkStream(t, 'ws->sse->longpoll', events, pub.count, ['websocket', 'sse', 'longpoll']);
    t.check('no reset', (await page.textContent('#resets')) === '0');
    t.check('the page says long polling', (await page.textContent('#transport')) === 'longpoll');
    t.log(`${pub.count} events; screenshot: ${await screenshot(page, 'client-fallback')}`);
    await page.close();
  }

  // 2. websocket -> long polling directly (a client configured without SSE).
  {
    const proxy = t.defer(await startProxy(demo.port));
    const page = await browser.newPage();
    await withTimeout(page.goto(`${proxy.url}/client.html?topic=direct&transports=websocket,longpoll`), 15000, 'open client.html');
    await page.waitForSelector('#playground .state.open', { timeout: 10000 });
    const pub = publisher(demo.url, 'direct');
    await pub.burst(5);
    await waitFor(page, '5 events over websocket', (ev) => ev.length >= 5);
    pub.background();
    proxy.block('ws');
    await waitFor(page, '5 events over long polling', (ev) => ev.filter((e) => e.transport === 'longpoll').length >= 5);
    await pub.halt();
    const events = await waitFor(page, `all ${pub.count} events`, (ev) => ev.length >= pub.count && ev.at(-1).id >= pub.count);
    checkStream(t, 'ws->longpoll', events, pub.count, ['websocket', 'longpoll']);
    t.log(`${pub.count} events; screenshot: ${await screenshot(page, 'client-fallback-ws-to-longpoll')}`);
    await page.close();
  }

  // 3. A cursor older than the history: the client is told (onreset) and
  //    continues from what the server holds.
  {
    const small = t.defer(await startDemo(process.argv[2], ['--history', '5']));
    for (let i = 1; i <= 12; i++) await publish(small.url, 'short', `e${i}`);
    const page = await browser.newPage();
    await withTimeout(page.goto(`${small.url}/client.html?topic=short&transports=longpoll&after=2`), 15000, 'open client.html');
    const events = await waitFor(page, 'the 5 held events', (ev) => ev.length >= 5);
    t.check('reset: the held events 8..12', JSON.stringify(events.map((e) => e.id)) === '[8,9,10,11,12]', JSON.stringify(events.map((e) => e.id)));
    t.check('reset: onreset was called once', (await page.textContent('#resets')) === '1');
    t.check('reset: the log says from where to where', /reset: 2 → 7/.test(await page.textContent('#log')));
    await page.close();
  }
});
