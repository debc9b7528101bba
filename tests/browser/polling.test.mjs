// Headless Chromium runs a long-poll loop with fetch (same origin) and a short
// poll loop against another origin (CORS, with If-None-Match, so the browser
// preflights and must be allowed to read the ETag); both must receive every
// published event once, in order.
//   node tests/browser/polling.test.mjs path/to/herald-demo
import { launchBrowser, publish, run, screenshot, startDemo, withTimeout } from './lib.mjs';

const N = 30;

async function parkedCount(url) {
  const r = await withTimeout(fetch(`${url}/metrics`), 5000, 'GET /metrics');
  const text = await r.text();
  const line = text.split('\n').find((l) => l.startsWith('herald_connections{transport="longpoll"} '));
  return line ? Number(line.split(' ')[1]) : 0;
}

await run('polling in Chromium', async (t) => {
  const demo = t.defer(await startDemo(process.argv[2], ['--cors-origin', '*']));
  const browser = t.defer(await launchBrowser());
  const page = await browser.newPage();
  await withTimeout(page.goto(`${demo.url}/healthz`), 15000, 'open /healthz');

  // Runs in the page: a long-poll loop (same origin) and a short-poll loop on
  // the other loopback name (a different origin: CORS), until N events each.
  const pageRun = page.evaluate(async ({ n, other }) => {
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const loop = async (base, kind) => {
      let cursor = 0, etag = null, notModified = 0;
      const got = [];
      const end = Date.now() + 30000;
      while (got.length < n && Date.now() < end) {
        const url = kind === 'long' ? `${base}/longpoll/page?after=${cursor}&timeout_ms=5000`
          : `${base}/poll/page?after=${cursor}&limit=4`;
        const headers = kind === 'short' && etag ? { 'If-None-Match': etag } : {};
        const r = await fetch(url, { headers, cache: 'no-store' });
        if (r.status === 304) { notModified++; await sleep(25); continue; }
        if (r.status !== 200) return { error: `${kind}: status ${r.status}` };
        etag = r.headers.get('ETag');
        const b = await r.json();
        if (b.reset) return { error: `${kind}: reset` };
        for (const e of b.events) got.push(e);
        cursor = b.next;
        if (kind === 'short' && b.events.length === 0) await sleep(25);  // the poll interval
      }
      return { got, etagSeen: etag !== null, notModified };
    };
    const [long, short] = await Promise.all([loop('', 'long'), loop(other, 'short')]);
    const show = (title, res) => {
      const h = document.createElement('h3');
      h.textContent = `${title}: ${res.got ? res.got.length : 0} events` + (res.error ? ` (${res.error})` : '');
      document.body.appendChild(h);
      const pre = document.createElement('pre');
      pre.textContent = (res.got ?? []).map((e) => `${e.id} ${e.data}`).join('\n');
      document.body.appendChild(pre);
    };
    document.body.textContent = '';
    show('long poll (same origin)', long);
    show('short poll (cross origin)', short);
    return { long, short };
  }, { n: N, other: demo.url.replace('127.0.0.1', 'localhost') });

  // Publish half, wait until the page's long poll is parked, publish the rest.
  for (let i = 1; i <= N / 2; i++) await publish(demo.url, 'page', `event ${i}`);
  const end = Date.now() + 10000;
  while ((await parkedCount(demo.url)) < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  t.check('a long poll from the page was parked', (await parkedCount(demo.url)) >= 1);
  for (let i = N / 2 + 1; i <= N; i++) await publish(demo.url, 'page', `event ${i}`);

  const res = await withTimeout(pageRun, 45000, 'the page poll loops');
  const expected = JSON.stringify(Array.from({ length: N }, (_, i) => [i + 1, `event ${i + 1}`]));
  for (const kind of ['long', 'short']) {
    const r = res[kind];
    t.check(`${kind}: no error`, !r.error, r.error);
    const seen = JSON.stringify((r.got ?? []).map((e) => [e.id, e.data]));
    t.check(`${kind}: every event once, in order`, seen === expected, seen.slice(0, 300));
  }
  t.check('short (cross origin): ETag readable', res.short.etagSeen === true);
  t.log(`short poll revalidations answered 304: ${res.short.notModified}`);
  t.log(`screenshot: ${await screenshot(page, 'polling')}`);
});
