// Every example that serves a browser page, in headless Chromium: the page
// shows what was published, in order, once each. Screenshots: example-NAME.png.
// The examples are built beside herald-demo (CMake puts them all in
// build/.../examples/); this test finds them from herald-demo's path and skips
// (with a line saying so) any that was not built.
//   node tests/browser/examples.test.mjs path/to/herald-demo
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, run, screenshot, startDemo, withTimeout } from './lib.mjs';

const dir = path.dirname(path.resolve(process.argv[2] ?? ''));
const binary = (name) => path.join(dir, name);

/// The [id, text] pairs of `selector` items in page order.
const items = (page, selector) => page.$$eval(selector, (lis) => lis.map((li) => [Number(li.dataset.id), li.textContent.trim()]));

async function waitItems(page, selector, n, ms = 10000) {
  await page.waitForFunction(({ selector, n }) => document.querySelectorAll(selector).length >= n, { selector, n }, { timeout: ms }).catch(() => {});
  return items(page, selector);
}

async function post(url, body) {
  const r = await withTimeout(fetch(url, { method: 'POST', body }), 5000, `POST ${url}`);
  if (r.status !== 202) throw new Error(`POST ${url}: ${r.status}`);
}

await run('example pages', async (t) => {
  const browser = t.defer(await launchBrowser());
  const example = async (name, args, body) => {
    if (!fs.existsSync(binary(name))) { t.log(`skipped ${name}: not built at ${binary(name)}`); return; }
    const ex = await startDemo(binary(name), args);
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await withTimeout(page.goto(`${ex.url}/`), 15000, `open ${name}`);
      await body(ex, page);
      t.check(`${name}: no script errors`, errors.length === 0, errors.join('; '));
      t.log(`screenshot: ${await screenshot(page, `example-${name}`)}`);
    } finally {
      await page.close();
      const s = await ex.stop();
      t.check(`${name}: exits cleanly on SIGTERM`, !s.killed, JSON.stringify(s));
    }
  };

  // notifications: SSE; a reload resumes after the last id shown.
  await example('notifications', ['--every-ms', '0'], async (ex, page) => {
    await page.waitForFunction(() => document.getElementById('state').textContent === 'live', null, { timeout: 10000 });
    for (const n of ['one', 'two', 'three']) await post(`${ex.url}/notify`, n);
    const got = await waitItems(page, '#list li[data-id]', 3);
    t.check('notifications: in order, once', JSON.stringify(got) === JSON.stringify([[1, '#1one'], [2, '#2two'], [3, '#3three']]), JSON.stringify(got));
    await post(`${ex.url}/notify`, 'four');
    await waitItems(page, '#list li[data-id]', 4);
    await page.reload();
    await page.waitForFunction(() => document.getElementById('state').textContent === 'live', null, { timeout: 10000 });
    await post(`${ex.url}/notify`, 'five');
    const after = await waitItems(page, '#list li[data-id]', 1);
    t.check('notifications: after a reload, only what is new', JSON.stringify(after) === JSON.stringify([[5, '#5five']]), JSON.stringify(after));
    t.check('notifications: says it resumed', /resumed after #4/.test(await page.textContent('#list')));
  });

  // existing_asio_server: the app's page and POST /say, herald's stream.
  await example('existing_asio_server', [], async (ex, page) => {
    // Subscribed once the EventSource is open (a top-level const of the page).
    await page.waitForFunction(() => (typeof es !== 'undefined') && es.readyState === 1, null, { timeout: 10000 });
    for (const s of ['alpha', 'beta']) await post(`${ex.url}/say`, s);
    await page.click('button');
    const got = await waitItems(page, '#list li', 3);
    t.check('existing_asio_server: in order, once', JSON.stringify(got) === JSON.stringify([[1, 'alpha'], [2, 'beta'], [3, 'hello from the page']]), JSON.stringify(got));
  });

  // custom_event_loop: WebSocket up, both WebSocket and SSE down, from a poll(2) loop.
  await example('custom_event_loop', [], async (ex, page) => {
    await page.waitForFunction(() => sock.readyState === 1 && es.readyState === 1, null, { timeout: 10000 });
    for (const m of ['m1', 'm2', 'm3']) {
      await page.fill('input[name=text]', m);
      await page.click('button');
    }
    const ws = await waitItems(page, '#ws li', 3);
    const sse = await waitItems(page, '#sse li', 3);
    const want = JSON.stringify([[1, 'm1'], [2, 'm2'], [3, 'm3']]);
    t.check('custom_event_loop: WebSocket shows each, in order', JSON.stringify(ws) === want, JSON.stringify(ws));
    t.check('custom_event_loop: SSE shows each, in order', JSON.stringify(sse) === want, JSON.stringify(sse));
  });
  // dashboard: short polling with ETag; /proc samples shown in order, 304s counted.
  await example('dashboard', ['--every-ms', '1000'], async (ex, page) => {
    const num = (id) => page.$eval(id, (e) => Number(e.textContent));
    await page.waitForFunction(() => Number(document.getElementById('n').textContent) >= 3 &&
      Number(document.getElementById('c304').textContent) >= 2, null, { timeout: 15000 }).catch(() => {});
    // Rows newest first: [id, cpu, rss MiB, threads, fds, load1].
    const rows = await page.$$eval('#samples tr', (trs) => trs.map((tr) =>
      [Number(tr.dataset.id), ...[...tr.children].slice(2).map((td) => Number(td.textContent))]));
    const ids = rows.map((r) => r[0]).reverse();
    t.check('dashboard: samples 1..n, in order, once', ids.length >= 3 && ids.every((id, i) => id === i + 1), JSON.stringify(ids));
    t.check('dashboard: real /proc values (rss > 0, threads >= 1, fds >= 3)',
      rows.every(([, cpu, rss, threads, fds]) => cpu >= 0 && rss > 0 && threads >= 1 && fds >= 3), JSON.stringify(rows));
    t.check('dashboard: the newest sample is in the tiles', (await num('#n')) === ids.at(-1));
    const c304 = await num('#c304'), news = await num('#c200');
    t.check('dashboard: unchanged polls answered 304', c304 >= 2 && news >= 1, `304: ${c304}, 200 with news: ${news}`);
  });
  // long_polling: the loop re-asks with after=next; empty answers when the
  // (short, here) wait ends; every post shown once, in order.
  await example('long_polling', ['--every-ms', '0', '--long-poll-max-ms', '400'], async (ex, page) => {
    const num = (id) => page.$eval(id, (e) => Number(e.textContent));
    await page.waitForFunction(() => Number(document.getElementById('empty').textContent) >= 1, null, { timeout: 10000 }).catch(() => {});
    t.check('long_polling: a wait that ended empty, then asked again', (await num('#empty')) >= 1 && (await num('#asked')) >= 2);
    for (const s of ['first', 'second', 'third']) await post(`${ex.url}/post`, s);
    await page.click('button');
    const got = await waitItems(page, '#list li[data-id]', 4);
    const texts = got.map(([id, text]) => [id, text.replace(/\d+:\d+:\d+.*$/, '')]);
    t.check('long_polling: in order, once', JSON.stringify(texts) ===
      JSON.stringify([[1, '#1first'], [2, '#2second'], [3, '#3third'], [4, '#4Deploy finished']]), JSON.stringify(texts));
    t.check('long_polling: the cursor is the last id', (await num('#cursor')) === 4);
  });
  // payments: a signed webhook confirms an order, the admin table updates over
  // SSE; a provider retry is acknowledged once, a forgery refused.
  await example('payments', [], async (ex, page) => {
    const rows = () => page.$$eval('#orders tr', (trs) => trs.map((tr) => [Number(tr.dataset.id), tr.dataset.status, tr.children[5].textContent]));
    const log = () => page.$$eval('#log li', (lis) => lis.map((li) => [Number(li.dataset.id), li.className, li.textContent]).reverse());
    const until = (fn, arg) => page.waitForFunction(fn, arg, { timeout: 10000 }).catch(() => {});
    await until(() => orders.readyState === 1 && log.readyState === 1 && document.querySelectorAll('#orders tr').length === 4);
    t.check('payments: four pending orders, in order', JSON.stringify((await rows()).map((r) => r.slice(0, 2))) ===
      JSON.stringify([[1001, 'pending'], [1002, 'pending'], [1003, 'pending'], [1004, 'pending']]), JSON.stringify(await rows()));

    await page.click('#orders tr[data-id="1002"] .payBtn');
    await until(() => document.querySelector('#orders tr[data-id="1002"]').dataset.status === 'paid');
    const paid = (await rows()).find((r) => r[0] === 1002);
    t.check('payments: the webhook confirmed order 1002, live', paid[1] === 'paid' && /^pay_\d+$/.test(paid[2]), JSON.stringify(paid));

    await page.click('#retry');
    await until(() => document.querySelectorAll('#log li').length >= 2);
    await page.click('#forged');
    await until(() => document.querySelectorAll('#log li').length >= 3);
    await page.click('#neworder');
    await until(() => document.querySelector('#orders tr[data-id="1005"] .payBtn'));
    await page.click('#orders tr[data-id="1005"] .payBtn');
    await until(() => document.querySelector('#orders tr[data-id="1005"]')?.dataset.status === 'paid');

    const entries = await log();
    t.check('payments: webhook log in order: accepted, duplicate, rejected, accepted',
      JSON.stringify(entries.map(([id, verdict]) => [id, verdict])) ===
      JSON.stringify([[1, 'accepted'], [2, 'duplicate'], [3, 'rejected'], [4, 'accepted']]), JSON.stringify(entries));
    t.check('payments: the retry had the same webhook-id as the payment', entries.length >= 2 &&
      entries[0][2].split(' · ')[0].replace(/^accepted /, '') === entries[1][2].split(' · ')[0].replace(/^duplicate /, ''), JSON.stringify(entries));
    const final = await rows();
    t.check('payments: table after all that', JSON.stringify(final.map((r) => r.slice(0, 2))) === JSON.stringify(
      [[1001, 'pending'], [1002, 'paid'], [1003, 'pending'], [1004, 'pending'], [1005, 'paid']]) &&
      final[1][2] === paid[2], JSON.stringify(final));
    // Not through the browser: a request that is not a signed webhook.
    const r = await withTimeout(fetch(`${ex.url}/webhooks/payments`, { method: 'POST', body: '{}' }), 5000, 'unsigned webhook');
    t.check('payments: an unsigned POST is 400', r.status === 400, String(r.status));
  });
  // webhook_sender: retries deliver to the flaky receiver; the down one's
  // schedule runs out (dead letter); brought up and replayed, it is delivered.
  await example('webhook_sender', ['--retry-schedule', '0s,300ms,600ms'], async (ex, page) => {
    const attempts = () => page.$$eval('#attempts li', (lis) => lis.map((li) =>
      [li.dataset.endpoint, Number(li.dataset.event), li.children[2].textContent, li.children[3].textContent, li.className]).reverse());
    const count = (ep, k) => page.$eval(`#${ep} .counts [data-k=${k}] b`, (b) => Number(b.textContent)).catch(() => -1);
    const until = (fn, arg) => page.waitForFunction(fn, arg, { timeout: 15000 }).catch(() => {});
    await until(() => es.readyState === 1 && document.querySelector('#ep_down .counts [data-k=dead]'));
    await page.click('#publish');
    await until(() => document.querySelectorAll('#attempts li').length >= 6 &&
      document.querySelector('#ep_down .counts [data-k=dead] b')?.textContent === '1');
    const got = await attempts();
    const of = (ep) => JSON.stringify(got.filter((a) => a[0] === ep).map((a) => a.slice(1)));
    t.check('webhook_sender: flaky: 503, 503, then 200 delivered', of('ep_flaky') === JSON.stringify(
      [[1, 'try 1', '503', 'retrying'], [1, 'try 2', '503', 'retrying'], [1, 'try 3', '200', 'delivered']]), of('ep_flaky'));
    t.check('webhook_sender: down: three 503s, then a dead letter', of('ep_down') === JSON.stringify(
      [[1, 'try 1', '503', 'retrying'], [1, 'try 2', '503', 'retrying'], [1, 'try 3', '503', 'dead']]), of('ep_down'));
    t.check('webhook_sender: counts: flaky delivered 1, down dead 1',
      (await count('ep_flaky', 'delivered')) === 1 && (await count('ep_down', 'dead')) === 1);

    await page.click('#up');
    await until(() => document.getElementById('downState').textContent === '(up now)');
    await page.click('#replay');
    await until(() => document.querySelector('#ep_down .counts [data-k=delivered] b')?.textContent === '1');
    const last = (await attempts()).at(-1);
    t.check('webhook_sender: replayed dead letter delivered', JSON.stringify(last) ===
      JSON.stringify(['ep_down', 1, 'try 1', '200', 'delivered']), JSON.stringify(last));
    t.check('webhook_sender: page says requeued 1; down now delivered 1, dead 0',
      (await page.textContent('#requeued')) === 'requeued 1' && (await count('ep_down', 'dead')) === 0, await page.textContent('#requeued'));
  });
  // chat: WebSocket rooms with herald.v1; switching rooms and back resumes
  // with ?after=N: each message once, in order, in its room.
  await example('chat', [], async (ex, page) => {
    const msgs = () => page.$$eval('#list li[data-id]', (lis) => lis.map((li) => [Number(li.dataset.id), li.children[1].textContent, li.children[2].textContent]));
    const live = (p, room) => p.waitForFunction((room) => document.getElementById('state').textContent === `live in #${room}`, room, { timeout: 10000 }).catch(() => {});
    const say = async (p, text) => { await p.fill('input[name=text]', text); await p.click('#f button'); };
    await live(page, 'general');
    await say(page, 'm1');
    await say(page, 'm2');
    await waitItems(page, '#list li[data-id]', 2);
    t.check('chat: general shows m1, m2 with ids', JSON.stringify(await msgs()) === JSON.stringify([[1, 'Ada', 'm1'], [2, 'Ada', 'm2']]), JSON.stringify(await msgs()));

    await page.click('#rooms button:text("random")');
    await live(page, 'random');
    await say(page, 'r1');
    await waitItems(page, '#list li[data-id]', 1);
    t.check('chat: random is its own room', JSON.stringify(await msgs()) === JSON.stringify([[1, 'Ada', 'r1']]), JSON.stringify(await msgs()));

    // Someone else, meanwhile, in general: a newcomer gets the room's history (after=0).
    const other = await browser.newPage();
    try {
      await withTimeout(other.goto(`${ex.url}/`), 15000, 'open chat again');
      await live(other, 'general');
      await other.fill('input[name=name]', 'Grace');
      await say(other, 'g3');
      const got = await waitItems(other, '#list li[data-id]', 3);
      t.check('chat: a newcomer sees the room history, then live', JSON.stringify(got.map(([id]) => id)) === '[1,2,3]', JSON.stringify(got));
    } finally { await other.close(); }

    // Back to general: what was shown, plus exactly what was missed (after=2).
    await page.click('#rooms button:text("general")');
    await live(page, 'general');
    await waitItems(page, '#list li[data-id]', 3);
    t.check('chat: back in general, resumed after #2: m1, m2, g3 once each',
      JSON.stringify(await msgs()) === JSON.stringify([[1, 'Ada', 'm1'], [2, 'Ada', 'm2'], [3, 'Grace', 'g3']]), JSON.stringify(await msgs()));
  });
});
