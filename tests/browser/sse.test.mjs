// herald-demo's /sse/{topic} against headless Chromium's own window.EventSource:
//  1. multi-line (LF, CR, CRLF) and non-ASCII payloads arrive intact: exactly
//     the published text, except that CR and CRLF line breaks arrive as LF,
//     which the SSE standard mandates (data: lines are joined with LF);
//  2. after a server restart (SIGTERM, a new demo on the SAME port, with a
//     fresh in-memory history) the page's EventSource reconnects by itself:
//     its Last-Event-ID is now ahead of the new head, so it gets
//     `event: reset` (id 0) and then the new server's events.
//
//   node sse.test.mjs <herald-demo>
import { startDemo, launchBrowser, screenshot, publish, withTimeout, run } from './lib.mjs';

const demoPath = process.argv[2];

// Runs in the page: an EventSource on `path`, its events in window.__log, and
// bounded waits that resolve on the event itself (no polling).
function installSource(path) {
  const w = window;
  w.__log = [];
  w.__opens = 0;
  w.__errors = 0;
  w.__waiters = [];
  const note = () => {
    w.__waiters = w.__waiters.filter((x) => {
      if (!x.done()) return true;
      x.resolve();
      return false;
    });
  };
  w.__until = (what, n, ms) => new Promise((resolve, reject) => {
    const done = () => (what === 'opens' ? w.__opens : w.__log.length) >= n;
    if (done()) return resolve();
    const timer = setTimeout(() => reject(new Error(
      `timed out after ${ms} ms waiting for ${what} >= ${n}: opens ${w.__opens}, errors ${w.__errors}, ` +
      `log ${JSON.stringify(w.__log)}`)), ms);
    w.__waiters.push({ done, resolve: () => { clearTimeout(timer); resolve(); } });
  });
  const es = new EventSource(path);
  w.__es = es;
  es.onopen = () => { w.__opens++; note(); };
  es.onerror = () => { w.__errors++; note(); };
  es.onmessage = (e) => { w.__log.push({ type: 'message', id: e.lastEventId, data: e.data }); note(); };
  es.addEventListener('reset', (e) => { w.__log.push({ type: 'reset', id: e.lastEventId, data: e.data }); note(); });
}

// Runs in the page: the log as a table, for the screenshot.
function render(title) {
  document.body.innerHTML = '';
  const h = document.createElement('h3');
  h.textContent = title;
  const table = document.createElement('table');
  table.border = '1';
  for (const e of window.__log) {
    const tr = table.insertRow();
    for (const v of [e.type, e.id, JSON.stringify(e.data)]) tr.insertCell().textContent = v;
  }
  document.body.append(h, table);
}

await run('browser sse', async (t) => {
  let demo = t.defer(await startDemo(demoPath));
  const port = demo.port;
  const browser = t.defer(await launchBrowser());
  const page = await browser.newPage();
  await withTimeout(page.goto(`${demo.url}/healthz`), 10000, 'open /healthz');  // same origin as /sse

  // ---------------------------------------------------------------- 1. payloads
  const payloads = [
    'single line',
    'lf\nseparated\nlines',
    'cr\rseparated\rlines',
    'crlf\r\nseparated\r\nlines',
    'all\nthree\r\nkinds\rof breaks',
    '\nleading and trailing\n',
    'blank\n\nline',
    'data: not a field\nid: 42\nretry: 1',
    'caf\u00e9 na\u00efve \u00fcber \u2014 \u2713 \u20ac',
    '\u{1F680}\u{1F600} \u65e5\u672c\u8a9e \u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd',
    'multi\nline \u00e9\u00e8\r\nand \u{1F4A9}',
  ];
  await page.evaluate(installSource, '/sse/browser');
  await page.evaluate(() => window.__until('opens', 1, 5000));
  for (const p of payloads) await publish(demo.url, 'browser', p);
  await page.evaluate((n) => window.__until('log', n, 5000), payloads.length);
  const log = await page.evaluate(() => window.__log);
  payloads.forEach((p, k) => {
    const want = p.replace(/\r\n|\r/g, '\n');
    const e = log[k];
    t.check(`payload ${k} ${JSON.stringify(p).slice(0, 30)}`,
      e?.type === 'message' && e.id === String(k + 1) && e.data === want,
      `got ${JSON.stringify(e)}, want ${JSON.stringify(want)}`);
  });
  t.check('LF-only and non-ASCII payloads are exactly the published text',
    payloads.every((p, k) => p.includes('\r') || log[k]?.data === p));

  // ---------------------------------------------------------------- 2. restart
  const stopped = await demo.stop();
  t.check('SIGTERM: the demo exits 0', stopped.code === 0 && !stopped.killed, JSON.stringify(stopped));
  demo = t.defer(await startDemo(demoPath, ['--port', String(port)]));
  t.check('the new demo listens on the same port', demo.port === port, `${demo.port} != ${port}`);
  // The stream ended; the page reconnects after `retry:` (2 s) by itself.
  await page.evaluate(() => window.__until('opens', 2, 20000));
  const fresh = 'after the restart \u2713';
  const id = await publish(demo.url, 'browser', fresh);
  t.check('the new server numbers from 1', id === 1, `id ${id}`);
  const n = payloads.length;
  await page.evaluate((m) => window.__until('log', m, 10000), n + 2);
  const after = (await page.evaluate(() => window.__log)).slice(n);
  t.check('reset after the restart (Last-Event-ID ahead of the new head), id first-1 = 0',
    after[0]?.type === 'reset' && after[0].id === '0' && JSON.stringify(JSON.parse(after[0].data)) === '{"next":0}',
    JSON.stringify(after[0]));
  t.check('then the new event', after[1]?.type === 'message' && after[1].id === '1' && after[1].data === fresh,
    JSON.stringify(after[1]));
  t.check('nothing else arrived', after.length === 2, JSON.stringify(after));
  const state = await page.evaluate(() => ({ ready: window.__es.readyState, opens: window.__opens, errors: window.__errors }));
  t.check('the EventSource is open again', state.ready === 1, JSON.stringify(state));
  t.log(`reconnected: ${JSON.stringify(state)}`);

  await page.evaluate(render, `herald SSE in Chromium: ${payloads.length} payloads, restart, reset, resume`);
  t.log(`screenshot ${await screenshot(page, 'sse')}`);
  await page.evaluate(() => window.__es.close());
});
