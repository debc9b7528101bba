// herald.js: the browser client of herald. No build step, no dependencies.
//
// One API over every transport herald serves, tried in order (WebSocket with
// the `herald.v1` subprotocol, then Server-Sent Events, then long polling, or
// short polling when asked), with reconnection (exponential backoff with full
// jitter) and ONE cursor shared by all of them: the id of the last event the
// app was given. Every transport resumes from that cursor (`?after=N`,
// `?lastEventId=N`), so a client that falls back from WebSocket to long
// polling in the middle of a stream continues from the same id, with nothing
// lost and nothing repeated, and the server keeps no session state for it: any
// server holding the topic's history can answer.
//
// Classic script:  <script src="/herald.js"></script>  then  window.herald
// ES module:       import herald from '/herald.mjs'   (a two-line wrapper)
//
//   const sub = herald.subscribe('', 'chat', {
//     transports: ['websocket', 'sse', 'longpoll'],   // the default order
//     after: 0,                      // cursor: 0 = everything the server holds
//     onevent(ev) { ... },           // {id, data, topic, transport}, in id order, once each
//     onreset(info) { ... },         // {previous, next, transport}: the server could not resume; events may be missing
//     onstatus(s) { ... },           // {state: 'connecting'|'open'|'waiting'|'closed'|'error', transport, ...}
//     token: 'eyJ...',               // optional JWT (herald --auth-secret)
//     onpoll(r) { ... },             // polling only: {status: 200|304, events: n} per answer
//   });
//   sub.publish('hello');            // over the open WebSocket, else POST /publish/{topic}
//   sub.cursor; sub.transport;       // where it is and how it is connected
//   sub.close();
//   await herald.publish('', 'chat', 'hello');       // POST /publish/chat -> id
//
// Wire formats are those of herald's CONTRACT.md: WebSocket `herald.v1`
// messages `{"id":N,"data":"..."}` and `{"reset":true,"next":F}`; SSE `id:`
// lines and `event: reset` with `data: {"next":F}`; polling bodies
// `{"events":[{"id":N,"data":"..."}],"next":M,"reset":bool}`.
(function (root) {
  'use strict';

  const TRANSPORTS = ['websocket', 'sse', 'longpoll', 'poll'];
  const DEFAULTS = {
    transports: ['websocket', 'sse', 'longpoll'],
    after: 0,
    token: null,
    backoffBaseMs: 250,     // first retry waits up to this (full jitter: uniform in [0, cap])
    backoffMaxMs: 15000,    // the cap never exceeds this
    failuresPerTransport: 2,// consecutive failed attempts before the next transport is tried
    stableMs: 3000,         // a connection that lived less than this (and brought nothing) counted as failed
    connectTimeoutMs: 8000, // an attempt that has not opened by then is abandoned
    longPollTimeoutMs: 25000, // asked of the server; under the 60 s idle timeout of common proxies
    pollIntervalMs: 1500,   // short polling only
    onevent: null, onreset: null, onstatus: null,
    onpoll: null,           // polling only: {status, events, transport} per answer (200 or 304)
  };

  /// Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
  /// uniform in [0, min(max, base * 2^attempt)], so clients that lost the same
  /// server do not all come back at the same instant.
  function backoff(attempt, base, max) {
    const cap = Math.min(max, base * Math.pow(2, Math.min(attempt, 30)));
    return Math.floor(Math.random() * cap);
  }

  function baseOf(baseUrl) {
    const here = (root.location && root.location.href) || 'http://127.0.0.1/';
    const u = new URL(baseUrl || '/', here);
    return u.href.replace(/\/+$/, '');
  }

  function withQuery(url, params) {
    const u = new URL(url);
    for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined) u.searchParams.set(k, String(v));
    return u.href;
  }

  /// POSTs `data` to /publish/{topic}; resolves with the event id.
  async function publish(baseUrl, topic, data, { token = null, signal } = {}) {
    const headers = { 'Content-Type': 'text/plain; charset=utf-8' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const r = await fetch(`${baseOf(baseUrl)}/publish/${encodeURIComponent(topic)}`,
      { method: 'POST', body: data, headers, signal });
    const text = await r.text();
    if (r.status !== 202) throw new Error(`publish to ${topic}: HTTP ${r.status} ${text}`);
    return JSON.parse(text).id;
  }

  class Subscription {
    constructor(baseUrl, topic, options) {
      const o = Object.assign({}, DEFAULTS, options || {});
      for (const t of o.transports) if (!TRANSPORTS.includes(t)) throw new Error(`herald: unknown transport '${t}'`);
      if (!o.transports.length) throw new Error('herald: no transport');
      this.base = baseOf(baseUrl);
      this.topic = topic;
      this.options = o;
      /// The id of the last event handed to the app (or the position a reset
      /// moved to). The one piece of state every transport resumes from.
      this.cursor = Number(o.after) || 0;
      this.transport = null;     // the transport in use (connecting or open)
      this.state = 'idle';
      this.closed = false;
      this._index = 0;           // into options.transports
      this._failures = 0;        // consecutive failed attempts since the last good connection
      this._onThis = 0;          // of which on the current transport
      this._gen = 0;             // bumped for every attempt: late callbacks of old ones are ignored
      this._conn = null;         // {close(), send?(data)}
      this._timer = null;
      this._connect();
    }

    /// Publishes to this topic: over the WebSocket when it is open (the server
    /// publishes text messages it receives), else POST /publish/{topic}.
    publish(data) {
      if (this._conn && this._conn.send && this.state === 'open') {
        this._conn.send(data);
        return Promise.resolve(null);
      }
      return publish(this.base, this.topic, data, { token: this.options.token });
    }

    close() {
      if (this.closed) return;
      this.closed = true;
      this._gen++;
      clearTimeout(this._timer);
      if (this._conn) this._conn.close();
      this._conn = null;
      this._status('closed');
    }

    _status(state, extra) {
      this.state = state;
      const s = Object.assign({ state, transport: this.transport, cursor: this.cursor, failures: this._failures }, extra || {});
      if (this.options.onstatus) { try { this.options.onstatus(s); } catch (e) { console.error(e); } }
    }

    // One event from any transport. Ids only grow: anything at or below the
    // cursor was already given to the app (an overlap after a switch), so it
    // is dropped here, once, for every transport.
    _event(id, data, transport) {
      if (!(id > this.cursor)) return;
      this.cursor = id;
      if (this.options.onevent) {
        try { this.options.onevent({ id, data, topic: this.topic, transport }); } catch (e) { console.error(e); }
      }
    }

    // The server could not resume from the cursor (it fell out of history, or
    // the server restarted): it says where it continues from (`next`, the id
    // before its oldest event). Move there and tell the app.
    _reset(next, transport) {
      const previous = this.cursor;
      this.cursor = next;
      if (this.options.onreset) {
        try { this.options.onreset({ previous, next, transport, topic: this.topic }); } catch (e) { console.error(e); }
      }
    }

    _connect() {
      if (this.closed) return;
      const gen = ++this._gen;
      const transport = this.options.transports[this._index];
      this.transport = transport;
      const started = Date.now();
      let opened = false, gotEvents = false, ended = false;
      const live = () => gen === this._gen && !this.closed;
      const connectTimer = setTimeout(() => { if (live() && !opened) fail('connect timeout'); }, this.options.connectTimeoutMs);

      const cb = {
        open: () => {
          if (!live() || opened) return;
          opened = true;
          clearTimeout(connectTimer);
          this._status('open');
        },
        event: (id, data) => { if (live()) { gotEvents = true; this._event(id, data, transport); } },
        reset: (next) => { if (live()) this._reset(next, transport); },
        end: (why) => fail(why),
        fatal: (why) => {
          if (!live()) return;
          clearTimeout(connectTimer);
          this.closed = true;
          if (this._conn) this._conn.close();
          this._status('error', { reason: why });
        },
      };
      const fail = (why) => {
        if (!live() || ended) return;
        ended = true;
        clearTimeout(connectTimer);
        if (this._conn) this._conn.close();
        this._conn = null;
        // A connection that stayed up (or brought events) was good: the network
        // dropped it, so come back at once-ish on the same transport. One that
        // never opened, or died at once with nothing, counts as a failure.
        const good = opened && (gotEvents || Date.now() - started >= this.options.stableMs);
        if (good) { this._failures = 0; this._onThis = 0; }
        else { this._failures++; this._onThis++; }
        if (this._onThis >= this.options.failuresPerTransport && this.options.transports.length > 1) {
          this._index = (this._index + 1) % this.options.transports.length;
          this._onThis = 0;
        }
        // The first try on a new transport goes without delay unless every
        // transport has failed in a row: then back off, longer each round.
        const rounds = Math.floor(this._failures / (this.options.failuresPerTransport * this.options.transports.length));
        const switching = this._onThis === 0 && !good && rounds === 0;
        const delay = switching ? 0 : backoff(good ? 0 : this._failures, this.options.backoffBaseMs, this.options.backoffMaxMs);
        this._status('waiting', { reason: why, delay, next: this.options.transports[this._index] });
        this._timer = setTimeout(() => this._connect(), delay);
      };

      this._status('connecting');
      try {
        this._conn = OPEN[transport](this, cb);
      } catch (e) {
        fail(String(e && e.message || e));
      }
    }
  }

  // Each opener starts one attempt from `sub.cursor` and reports through `cb`;
  // it returns {close(), send?()}. Any end, clean or not, goes to cb.end: the
  // subscription decides whether to retry, back off or switch.
  const OPEN = {
    websocket(sub, cb) {
      const url = withQuery(sub.base.replace(/^http/, 'ws') + `/ws/topic/${encodeURIComponent(sub.topic)}`,
        { after: sub.cursor, access_token: sub.options.token });
      const ws = new WebSocket(url, ['herald.v1']);
      ws.onopen = () => {
        // Without herald.v1 the messages carry no ids, and the shared cursor
        // would be lost: such a server is not one this transport can use.
        if (ws.protocol !== 'herald.v1') { cb.end('server did not accept herald.v1'); return; }
        cb.open();
      };
      ws.onmessage = (m) => {
        if (typeof m.data !== 'string') return;
        let msg;
        try { msg = JSON.parse(m.data); } catch { return cb.end('bad herald.v1 message'); }
        if (msg.reset) cb.reset(Number(msg.next));
        else cb.event(Number(msg.id), msg.data);
      };
      ws.onclose = (e) => {
        if (e.code === 1008) return cb.fatal(`refused (1008 ${e.reason})`);  // policy: a token that expired or does not allow the topic
        cb.end(`closed ${e.code}`);
      };
      ws.onerror = () => {};  // onclose follows with the code
      return {
        close() { ws.onopen = ws.onmessage = ws.onclose = null; try { ws.close(1000); } catch { /* not open yet */ } },
        send(data) { ws.send(data); },
      };
    },

    sse(sub, cb) {
      const url = withQuery(`${sub.base}/sse/${encodeURIComponent(sub.topic)}`,
        { lastEventId: sub.cursor, access_token: sub.options.token });
      const es = new EventSource(url);
      es.onopen = () => cb.open();
      es.onmessage = (m) => cb.event(Number(m.lastEventId), m.data);
      es.addEventListener('reset', (m) => {
        let next = Number(m.lastEventId);
        try { next = Number(JSON.parse(m.data).next); } catch { /* id: F says the same */ }
        cb.reset(next);
      });
      // EventSource would reconnect by itself, but from its own Last-Event-ID;
      // closing it and reconnecting here keeps one cursor and one backoff.
      es.onerror = () => cb.end('stream ended');
      return { close() { es.onopen = es.onmessage = es.onerror = null; es.close(); } };
    },

    longpoll(sub, cb) { return pollLoop(sub, cb, true); },
    poll(sub, cb) { return pollLoop(sub, cb, false); },
  };

  // Long polling: each answer comes as soon as there is an event after the
  // cursor (or after the timeout, empty); ask again at once. Short polling:
  // ask every pollIntervalMs, with If-None-Match so an unchanged answer is a
  // bodiless 304.
  function pollLoop(sub, cb, long) {
    const ctl = new AbortController();
    let stopped = false, etag = null, timer = null;
    const o = sub.options;
    const headers = {};
    if (o.token) headers.Authorization = `Bearer ${o.token}`;
    let first = true;
    const once = async () => {
      // The first long poll asks for an answer at once (timeout_ms=0): it
      // proves the endpoint works, so the status can say 'open' without
      // waiting for news; the next ones are held by the server.
      const wait = first ? 0 : o.longPollTimeoutMs;
      first = false;
      const params = long ? { after: sub.cursor, timeout_ms: wait } : { after: sub.cursor };
      const url = withQuery(`${sub.base}/${long ? 'longpoll' : 'poll'}/${encodeURIComponent(sub.topic)}`, params);
      const h = Object.assign({}, headers);
      if (!long && etag) h['If-None-Match'] = etag;
      // A request that outlives the server's own deadline by far went nowhere.
      const guard = setTimeout(() => ctl.abort(), (long ? wait : 0) + 10000);
      let r, body = null;
      try {
        r = await fetch(url, { headers: h, signal: ctl.signal, cache: 'no-store' });
        if (r.status === 200) body = await r.json();
      } finally { clearTimeout(guard); }
      if (stopped) return;
      if (o.onpoll) { try { o.onpoll({ status: r.status, events: body ? (body.events || []).length : 0, transport: long ? 'longpoll' : 'poll' }); } catch (e) { console.error(e); } }
      if (r.status === 401 || r.status === 403) return cb.fatal(`HTTP ${r.status}`);
      if (r.status !== 200 && r.status !== 304) return cb.end(`HTTP ${r.status}`);
      cb.open();
      if (r.status === 200) {
        etag = r.headers.get('ETag');
        const events = body.events || [];
        // A reset answers from the oldest event held: the cursor moves to just
        // before it (or to `next` when nothing is held).
        if (body.reset) cb.reset(events.length ? events[0].id - 1 : Number(body.next));
        for (const e of events) { if (stopped) return; cb.event(Number(e.id), e.data); }
      }
      if (stopped) return;
      if (long) once().catch(onError);
      else timer = setTimeout(() => once().catch(onError), o.pollIntervalMs);
    };
    const onError = (e) => { if (!stopped) cb.end(String(e && e.message || e)); };
    once().catch(onError);
    return { close() { stopped = true; clearTimeout(timer); ctl.abort(); } };
  }

  function subscribe(baseUrl, topic, options) { return new Subscription(baseUrl, topic, options); }

  const herald = { subscribe, publish, backoff, Subscription, version: '1' };
  root.herald = herald;
  if (typeof module === 'object' && module && module.exports) module.exports = herald;
})(typeof globalThis !== 'undefined' ? globalThis : this);
