// herald-demo's WebSocket endpoints from headless Chromium's window.WebSocket:
// echo (text, binary, permessage-deflate as the browser offers it), a topic
// with the herald.v1 subprotocol where messages published from the page and
// over HTTP reach it, resume with ?after, and close 1003 for binary on a topic.
//
//   node websocket.test.mjs <herald-demo>
import { startDemo, launchBrowser, screenshot, publish, withTimeout, run } from './lib.mjs';

await run('browser: WebSocket', async (t) => {
  const demo = t.defer(await startDemo(process.argv[2]));
  const browser = t.defer(await launchBrowser());
  const page = await browser.newPage();
  await withTimeout(page.goto(`${demo.url}/healthz`), 15000, 'open a same-origin page');
  const wsBase = demo.url.replace('http://', 'ws://');

  // Helpers inside the page: every wait bounded.
  await page.evaluate(() => {
    window.log = [];
    window.openWs = (url, protocols) => new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols);
      ws.binaryType = 'arraybuffer';
      ws.inbox = [];
      ws.waiters = [];
      ws.onmessage = (e) => {
        const m = typeof e.data === 'string' ? e.data : Array.from(new Uint8Array(e.data));
        window.log.push(`${url.split('/ws/')[1]}: ${typeof m === 'string' ? m.slice(0, 80) : `[${m.length} bytes]`}`);
        if (ws.waiters.length) ws.waiters.shift()(m); else ws.inbox.push(m);
      };
      ws.closed = new Promise((r) => { ws.onclose = (e) => r({ code: e.code, reason: e.reason, clean: e.wasClean }); });
      ws.next = () => new Promise((res, rej) => {
        if (ws.inbox.length) return res(ws.inbox.shift());
        ws.waiters.push(res);
        setTimeout(() => rej(new Error(`no message on ${url}`)), 10000);
      });
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error(`cannot open ${url}`));
      setTimeout(() => reject(new Error(`open timed out: ${url}`)), 10000);
    });
  });

  const echo = await withTimeout(page.evaluate(async (base) => {
    const ws = await window.openWs(`${base}/ws/echo`);
    const big = 'é€'.repeat(200000);  // 1 MB of multi-byte text
    ws.send('hello from chromium');
    ws.send(new Uint8Array([0, 1, 2, 254, 255]));
    ws.send(big);
    const r = [await ws.next(), await ws.next(), await ws.next()];
    ws.close(1000, 'bye');
    const closed = await ws.closed;
    return { ext: ws.extensions, text: r[0], bin: r[1], bigOk: r[2] === big, closed };
  }, wsBase), 30000, 'echo in the page');
  t.check('browser negotiated permessage-deflate', echo.ext.includes('permessage-deflate'), echo.ext);
  t.check('text echoed', echo.text === 'hello from chromium', echo.text);
  t.check('binary echoed', JSON.stringify(echo.bin) === '[0,1,2,254,255]', JSON.stringify(echo.bin));
  t.check('1 MB multi-byte text echoed', echo.bigOk);
  t.check('clean close 1000', echo.closed.code === 1000 && echo.closed.clean, JSON.stringify(echo.closed));

  const topic = await withTimeout(page.evaluate(async (base) => {
    const sub = await window.openWs(`${base}/ws/topic/browser`, ['herald.v1']);
    const pub = await window.openWs(`${base}/ws/topic/browser`);
    pub.send('typed in the page "quoted"');
    const a = await sub.next();
    const b = await pub.next();  // the sender gets it too
    window.sub = sub;
    return { protocol: sub.protocol, plainProtocol: pub.protocol, a, b };
  }, wsBase), 30000, 'topic in the page');
  t.check('herald.v1 chosen', topic.protocol === 'herald.v1', topic.protocol);
  t.check('no subprotocol unless asked', topic.plainProtocol === '', topic.plainProtocol);
  t.check('v1 event with id', topic.a === '{"id":1,"data":"typed in the page \\"quoted\\""}', topic.a);
  t.check('sender receives its own message verbatim', topic.b === 'typed in the page "quoted"', topic.b);

  await publish(demo.url, 'browser', 'from the server side');
  const viaHttp = await withTimeout(page.evaluate(() => window.sub.next()), 15000, 'published event in the page');
  t.check('event published over HTTP reaches the page', viaHttp === '{"id":2,"data":"from the server side"}', viaHttp);

  const resume = await withTimeout(page.evaluate(async (base) => {
    const ws = await window.openWs(`${base}/ws/topic/browser?after=1`, ['herald.v1']);
    return ws.next();
  }, wsBase), 15000, 'resume in the page');
  t.check('?after=1 resumes at id 2', resume === '{"id":2,"data":"from the server side"}', resume);

  const refused = await withTimeout(page.evaluate(async (base) => {
    const ws = await window.openWs(`${base}/ws/topic/browser`);
    ws.send(new Uint8Array([1]));
    return ws.closed;
  }, wsBase), 15000, 'binary on a topic');
  t.check('binary on a topic: close 1003', refused.code === 1003, JSON.stringify(refused));

  await page.evaluate(() => {
    document.body.innerHTML = `<h1>herald WebSocket in Chromium</h1><pre id="log"></pre>`;
    document.getElementById('log').textContent = window.log.join('\n');
  });
  const file = await screenshot(page, 'websocket');
  t.log(`screenshot: ${file}`);
});
