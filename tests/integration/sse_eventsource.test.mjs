// herald-demo's /sse/{topic} against the `eventsource` npm client (v3), a real
// WHATWG-style EventSource implementation:
//  1. 1,200 events published while connected, the stream dropped mid-way
//     (twice, more events published while the client is away) by a TCP proxy between client and server: the client reconnects
//     with Last-Event-ID and receives every event exactly once, in order, intact;
//  2. multi-line (LF, CR, CRLF) and non-ASCII payloads arrive as the SSE
//     standard reassembles them;
//  3. a cursor too old for the history, or ahead of its head, gets
//     `event: reset` (id first-1) and then the events from `first`.
//
//   node sse_eventsource.test.mjs <herald-demo>
import net from 'node:net';
import { once } from 'node:events';
import { EventSource } from 'eventsource';

import { startDemo, publish, withTimeout, deferred, run } from './lib.mjs';

const demoPath = process.argv[2];

/// A TCP proxy on 127.0.0.1 that can cut every connection through it, so the
/// client loses its stream mid-way as if the server (or a middlebox) dropped it.
/// It also records each request head, to see what the client sent on reconnect.
async function startProxy(targetPort) {
  const pairs = new Set();
  const heads = [];
  const server = net.createServer((client) => {
    const up = net.connect(targetPort, '127.0.0.1');
    const pair = { client, up };
    pairs.add(pair);
    let head = '';
    const onHead = (d) => {
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) { heads.push(head); client.off('data', onHead); }
    };
    client.on('data', onHead);
    client.pipe(up);
    up.pipe(client);
    const drop = () => { client.destroy(); up.destroy(); pairs.delete(pair); };
    client.on('error', drop); up.on('error', drop);
    client.on('close', drop); up.on('close', drop);
  });
  server.listen(0, '127.0.0.1');
  await withTimeout(once(server, 'listening'), 5000, 'proxy listen');
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    heads,
    open: () => pairs.size,
    /// Cuts every connection now: an RST to the client, a close to the server.
    cut() {
      const n = pairs.size;
      for (const { client, up } of [...pairs]) { client.resetAndDestroy(); up.destroy(); }
      pairs.clear();
      return n;
    },
    stop() {
      this.cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/// Opens an EventSource and resolves once it is open. `onEvent(type, e)` sees
/// every `message` and `reset` event.
async function openSource(url, onEvent, what) {
  const es = new EventSource(url);
  const opened = deferred();
  es.addEventListener('open', () => opened.resolve(), { once: true });
  es.addEventListener('message', (e) => onEvent('message', e));
  es.addEventListener('reset', (e) => onEvent('reset', e));
  try {
    await withTimeout(opened.promise, 5000, `EventSource open: ${what}`);
  } catch (e) {
    es.close();
    throw e;
  }
  return es;
}

function payloadFor(i) {
  // Varied sizes, a second line on every seventh, non-ASCII on every fifth.
  let s = `event ${i} ${'x'.repeat(i % 97)}`;
  if (i % 7 === 0) s += `\nsecond line of ${i}`;
  if (i % 5 === 0) s += ' caf\u00e9 \u2713 \u{1F680}';
  return s;
}

await run('sse_eventsource', async (t) => {
  const demo = t.defer(await startDemo(demoPath));

  // ---------------------------------------------------------------- 1. drop mid-way, resume, none lost
  {
    const TOTAL = 1200;
    const proxy = t.defer(await startProxy(demo.port));
    const got = [];           // {id, data}
    const resets = [];
    const published = new Map();  // id -> data
    let opens = 0;
    let maxId = 0;
    let cutAt = Infinity;     // cut the stream when the client has received this id
    let cutDone = deferred();
    const waiters = [];       // {id, d}

    const es = new EventSource(`${proxy.url}/sse/bulk`);
    t.defer(() => es.close());
    const firstOpen = deferred();
    es.addEventListener('open', () => { opens++; firstOpen.resolve(); });
    es.addEventListener('reset', (e) => resets.push(e.data));
    es.addEventListener('message', (e) => {
      const id = Number(e.lastEventId);
      got.push({ id, data: e.data });
      maxId = Math.max(maxId, id);
      if (id >= cutAt) {
        cutAt = Infinity;
        const n = proxy.cut();
        t.log(`cut ${n} connection(s) after id ${id}`);
        cutDone.resolve();
      }
      for (const w of waiters) if (maxId >= w.id) w.d.resolve();
    });
    const received = (id) => {
      if (maxId >= id) return Promise.resolve();
      const d = deferred();
      waiters.push({ id, d });
      // A reconnect waits the server's `retry:` (2 s) first.
      return withTimeout(d.promise, 15000, `client to receive id ${id} (has ${got.length}, last ${maxId})`);
    };
    let next = 1;
    const publishUpTo = async (last) => {
      for (; next <= last; next++) {
        const data = payloadFor(next);
        published.set(await publish(demo.url, 'bulk', data), data);
      }
    };
    await withTimeout(firstOpen.promise, 5000, 'first open through the proxy');

    // Publishing goes straight to the demo, not through the proxy.
    await publishUpTo(300);
    await received(300);
    for (const [cut, gapEnd] of [[400, 700], [800, 1100]]) {
      // The stream is cut while events flow; more are published while the
      // client is away (it waits `retry:` before reconnecting).
      cutAt = cut;
      cutDone = deferred();
      await publishUpTo(cut + 100);
      await withTimeout(cutDone.promise, 5000, `the cut at id ${cut}`);
      await publishUpTo(gapEnd);
      t.check(`events ${cut + 101}..${gapEnd} published while the client was disconnected`,
        es.readyState === EventSource.CONNECTING, `readyState ${es.readyState}`);
      await received(gapEnd);
    }
    await publishUpTo(TOTAL);
    await received(TOTAL);
    es.close();

    t.check('ids 1..TOTAL assigned in order', published.size === TOTAL && published.has(1) && published.has(TOTAL));
    t.check('the client reconnected after each cut', opens === 3, `opens ${opens}`);
    const reconnects = proxy.heads.slice(1);
    t.check('each reconnect sent Last-Event-ID',
      reconnects.length === 2 && reconnects.every((h) => /\r\nlast-event-id: \d+\r\n/i.test(h)),
      JSON.stringify(reconnects.map((h) => /last-event-id: (\d+)/i.exec(h)?.[1] ?? null)));
    t.log(`reconnected with Last-Event-ID ${reconnects.map((h) => /last-event-id: (\d+)/i.exec(h)?.[1]).join(', ')}`);
    t.check('no reset on a resume within history', resets.length === 0, JSON.stringify(resets));
    const ids = got.map((g) => g.id);
    const dups = ids.filter((id, k) => ids.indexOf(id) !== k);
    t.check('no duplicate', dups.length === 0, `duplicates: ${dups.slice(0, 10)}`);
    const missing = [];
    const seen = new Set(ids);
    for (let i = 1; i <= TOTAL; i++) if (!seen.has(i)) missing.push(i);
    t.check('none lost', missing.length === 0, `missing ${missing.length}: ${missing.slice(0, 10)}`);
    t.check('in order', ids.every((id, k) => k === 0 || id > ids[k - 1]));
    t.check(`exactly ${TOTAL} events`, got.length === TOTAL, `got ${got.length}`);
    const wrong = got.filter((g) => published.get(g.id) !== g.data);
    t.check('every payload intact', wrong.length === 0,
      wrong.slice(0, 3).map((w) => `${w.id}: ${JSON.stringify(w.data)} != ${JSON.stringify(published.get(w.id))}`).join('; '));
    await proxy.stop();
  }

  // ---------------------------------------------------------------- 2. multi-line and non-ASCII
  {
    // The SSE standard joins `data:` lines with LF, so CR and CRLF line breaks
    // arrive as LF (a browser does the same); everything else arrives verbatim.
    const payloads = [
      'one line',
      'two\nlines',
      'crlf\r\nlines\r\nthree',
      'cr\ronly',
      'mixed\nlf\r\ncrlf\rcr',
      '\n\nleading blank lines',
      'trailing newline\n',
      'blank\n\nline inside',
      'data: looks like a field\nid: 99\nevent: nope',
      ': looks like a comment',
      '  leading spaces kept',
      'caf\u00e9 na\u00efve \u00fcber \u2014 \u2713 \u{1F680} \u65e5\u672c\u8a9e \u0645\u0631\u062d\u0628\u0627',
      '\u{1F600}\n\u{1F4A9}\r\n\u00e9',
    ];
    const got = [];
    const done = deferred();
    const es = await openSource(`${demo.url}/sse/text`, (type, e) => {
      if (type !== 'message') return;
      got.push({ id: Number(e.lastEventId), data: e.data });
      if (got.length === payloads.length) done.resolve();
    }, '/sse/text');
    t.defer(() => es.close());
    for (const p of payloads) await publish(demo.url, 'text', p);
    await withTimeout(done.promise, 5000, `${payloads.length} text events (have ${got.length})`);
    es.close();
    payloads.forEach((p, k) => {
      const expect = p.replace(/\r\n|\r/g, '\n');
      t.check(`payload ${k} intact`, got[k]?.data === expect && got[k]?.id === k + 1,
        `got ${JSON.stringify(got[k])}, want ${JSON.stringify(expect)}`);
    });
  }

  // ---------------------------------------------------------------- 3. reset: too old and ahead
  {
    const small = t.defer(await startDemo(demoPath, ['--history', '5']));
    for (let i = 1; i <= 10; i++) await publish(small.url, 'r', `r${i}`);  // held: 6..10
    for (const [label, cursor] of [['too old', 2], ['ahead of head (a restarted server)', 50]]) {
      const seen = [];
      const done = deferred();
      // The eventsource client sends Last-Event-ID only on a reconnect, so the
      // first request's cursor goes in the query, as a browser page would do.
      const es = await openSource(`${small.url}/sse/r?lastEventId=${cursor}`, (type, e) => {
        seen.push({ type, id: e.lastEventId, data: e.data });
        if (seen.length === 6) done.resolve();
      }, `cursor ${cursor}`);
      t.defer(() => es.close());
      await withTimeout(done.promise, 5000, `reset + 5 events for cursor ${cursor} (have ${JSON.stringify(seen)})`);
      es.close();
      t.check(`${label}: reset first`, seen[0].type === 'reset' && seen[0].id === '5' &&
        JSON.stringify(JSON.parse(seen[0].data)) === '{"next":5}', JSON.stringify(seen[0]));
      const rest = seen.slice(1);
      t.check(`${label}: then events from first`,
        rest.every((s, k) => s.type === 'message' && s.id === String(6 + k) && s.data === `r${6 + k}`),
        JSON.stringify(rest));
    }
    // A cursor exactly at first-1 is not a reset.
    {
      const seen = [];
      const done = deferred();
      const es = await openSource(`${small.url}/sse/r?lastEventId=5`, (type, e) => {
        seen.push({ type, id: e.lastEventId });
        if (seen.length === 5) done.resolve();
      }, 'cursor 5');
      t.defer(() => es.close());
      await withTimeout(done.promise, 5000, 'events 6..10 for cursor 5');
      es.close();
      t.check('cursor first-1: no reset, events 6..10',
        seen.map((s) => `${s.type}:${s.id}`).join(',') === 'message:6,message:7,message:8,message:9,message:10',
        JSON.stringify(seen));
    }
  }
});
