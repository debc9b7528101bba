// The demo page (GET / on herald-demo) in headless Chromium: every panel shows
// the events of its own topic, in order, once each; the side-by-side table
// fills in latency and server-counted bytes; a panel whose endpoint the server
// does not serve says so. Screenshots: demo-page.png, demo-page-unavailable.png.
//   node tests/browser/demo_page.test.mjs path/to/herald-demo
import { launchBrowser, publish, run, screenshot, startDemo, withTimeout } from './lib.mjs';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/// The events a panel shows: [[id, text], ...] in page order.
const shown = (page, panel) => page.$$eval(`#${panel} .events li[data-id]`,
  (lis) => lis.map((li) => [Number(li.dataset.id), li.querySelector('.text')?.textContent ?? '']));

/// Waits until the panel shows at least n events (bounded), then returns them.
async function waitShown(page, panel, n, ms = 15000) {
  try {
    await page.waitForFunction(({ panel, n }) => document.querySelectorAll(`#${panel} .events li[data-id]`).length >= n,
      { panel, n }, { timeout: ms });
  } catch { /* the check below reports what was there */ }
  return shown(page, panel);
}

const expected = (texts) => texts.map((t, i) => [i + 1, t]);

await run('demo page', async (t) => {
  const demo = t.defer(await startDemo(process.argv[2], ['--webhook-secret', SECRET]));
  const browser = t.defer(await launchBrowser());
  const page = await browser.newPage();
  await page.setViewportSize({ width: 1400, height: 900 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await withTimeout(page.goto(`${demo.url}/`), 15000, 'open /');
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15000 });

  const css = await withTimeout(fetch(`${demo.url}/style.css`), 5000, 'GET /style.css');
  t.check('assets are served with their type', (css.headers.get('content-type') ?? '').startsWith('text/css'));
  const js = await withTimeout(fetch(`${demo.url}/herald.js`), 5000, 'GET /herald.js');
  t.check('GET /herald.js is JavaScript', js.status === 200 && (js.headers.get('content-type') ?? '').includes('javascript'));

  // Every panel is live before anything is published.
  for (const p of ['chat', 'notifications', 'webhooks', 'metrics', 'feed']) {
    const live = await page.waitForSelector(`#panel-${p} .state.open`, { timeout: 10000 }).then(() => true, () => false);
    t.check(`${p}: connected`, live, await page.textContent(`#panel-${p} .state`));
  }

  // Chat: typed into the page, up and down the WebSocket.
  const chat = ['hello', 'second line', 'héllo wörld ✓'];
  for (const m of chat) {
    await page.fill('#panel-chat input[name=text]', m);
    await page.click('#panel-chat button');
  }
  t.check('chat: the messages, in order, once', JSON.stringify(await waitShown(page, 'panel-chat', 3)) === JSON.stringify(expected(chat)),
    JSON.stringify(await shown(page, 'panel-chat')));

  // Notifications (SSE) and feed (long polling): published from outside.
  const notes = ['n1', 'n2', 'n3', 'n4'];
  for (const n of notes) await publish(demo.url, 'notifications', JSON.stringify({ kind: 'like', text: n, t: Date.now() }));
  const posts = ['p1', 'p2', 'p3'];
  for (const p of posts) await publish(demo.url, 'feed', JSON.stringify({ text: p, t: Date.now() }));
  t.check('notifications: in order, once', JSON.stringify(await waitShown(page, 'panel-notifications', 4)) === JSON.stringify(expected(notes)),
    JSON.stringify(await shown(page, 'panel-notifications')));
  t.check('feed: in order, once', JSON.stringify(await waitShown(page, 'panel-feed', 3)) === JSON.stringify(expected(posts)),
    JSON.stringify(await shown(page, 'panel-feed')));

  // Metrics dashboard (short polling): two readings from the page's button.
  await page.click('#panel-metrics button[name=one]');
  await page.click('#panel-metrics button[name=one]');
  const readings = await waitShown(page, 'panel-metrics', 2);
  t.check('metrics: two readings, ids 1 and 2', JSON.stringify(readings.map((r) => r[0])) === '[1,2]', JSON.stringify(readings));
  t.check('metrics: the gauge shows the last reading', /%$/.test(await page.textContent('#g-cpu')));

  // Incoming webhooks: signed in the page with WebCrypto, verified by the server, shown over SSE.
  await page.fill('#hook-form input[name=secret]', SECRET);
  await page.click('#hook-form button');
  await page.waitForFunction(() => document.querySelectorAll('#panel-webhooks .events li[data-id]').length >= 1, null, { timeout: 10000 }).catch(() => {});
  await page.click('#hook-form button');
  const hooks = await waitShown(page, 'panel-webhooks', 2);
  t.check('webhooks: two verified deliveries, in order', hooks.length === 2 && hooks[0][0] === 1 && hooks[1][0] === 2
    && hooks.every((h) => /^order A-\d+/.test(h[1])), JSON.stringify(hooks));

  // Nothing leaked into another panel.
  t.check('each panel shows only its topic', (await shown(page, 'panel-chat')).length === 3
    && (await shown(page, 'panel-notifications')).length === 4 && (await shown(page, 'panel-feed')).length === 3);

  // The side-by-side table: events counted, latency measured, bytes from /metrics.
  await page.waitForFunction(() => [...document.querySelectorAll('#compare tbody tr')]
    .every((r) => r.querySelector('.bytes').textContent !== '–'), null, { timeout: 8000 }).catch(() => {});
  const table = await page.$$eval('#compare tbody tr', (rows) => Object.fromEntries(rows.map((r) => [r.dataset.transport, {
    n: Number(r.querySelector('.n').textContent), last: r.querySelector('.last').textContent, bytes: r.querySelector('.bytes').textContent,
  }])));
  t.log(`table: ${JSON.stringify(table)}`);
  t.check('table: websocket events counted', table.websocket.n === 3, JSON.stringify(table.websocket));
  t.check('table: sse events counted (notifications + webhooks)', table.sse.n === 6, JSON.stringify(table.sse));
  t.check('table: long poll events counted', table.longpoll.n === 3, JSON.stringify(table.longpoll));
  for (const k of ['websocket', 'sse', 'poll', 'longpoll']) t.check(`table: ${k} latency measured`, /ms$/.test(table[k].last), table[k].last);
  for (const k of ['websocket', 'sse']) t.check(`table: ${k} bytes per event from the server`, /^\d+ B/.test(table[k].bytes), table[k].bytes);
  t.check('no script errors', errors.length === 0, errors.join('; '));
  t.log(`screenshot: ${await screenshot(page, 'demo-page')}`);

  // A server without WebSocket and without incoming webhooks (emulated: the
  // probes answer 404): those panels say so instead of spinning.
  const bare = await browser.newPage();
  await bare.setViewportSize({ width: 1400, height: 900 });
  await bare.route(/\/ws\/topic\//, (r) => r.fulfill({ status: 404, body: 'not found' }));
  await bare.route(/\/hooks\/in$/, (r) => r.fulfill({ status: 404, body: 'not found' }));
  await withTimeout(bare.goto(`${demo.url}/`), 15000, 'open / (bare)');
  await bare.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
  const note = await bare.textContent('#panel-chat .unavailable-note');
  t.check('chat: "not available on this server"', /Not available on this server/.test(note) && await bare.isVisible('#panel-chat .unavailable-note'), note);
  t.check('chat: its form is disabled', await bare.isDisabled('#panel-chat button'));
  t.check('webhook form disabled without --webhook-secret', await bare.isDisabled('#hook-form button'));
  t.check('other panels still live', await bare.waitForSelector('#panel-feed .state.open', { timeout: 10000 }).then(() => true, () => false));
  t.log(`screenshot: ${await screenshot(bare, 'demo-page-unavailable')}`);
});
