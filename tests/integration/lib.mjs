// Shared harness for tests with real peers against herald-demo (no browser):
// start and stop the demo, bound every wait, publish, and report.
//
//   import { startDemo, withTimeout, publish, run } from './lib.mjs';
//   await run('my test', async (t) => {
//     const demo = t.defer(await startDemo(process.argv[2]));
//     await publish(demo.url, 'news', 'hello');
//     t.check('something', cond, 'detail on failure');
//   });
//
// The browser harness (tests/browser/lib.mjs) re-exports everything here.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';

const LISTENING = /listening on http:\/\/(\[[^\]]+\]|[^\s:/]+):(\d+)/;

// Every demo started by this process, so that a crash still kills them.
const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

/// Rejects with "timed out after MS ms: WHAT" unless `promise` settles first.
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([Promise.resolve(promise), timeout]).finally(() => clearTimeout(timer));
}

/// A promise with its resolve/reject outside (wait on an event from a callback).
export function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/// Spawns herald-demo and resolves once its stdout has the
/// `listening on http://ADDR:PORT` line, with `{url, port, proc, stop(), output()}`.
/// `extraArgs` go after `--port 0`; pass your own `--port N` in them to reuse a
/// port (a restart). Rejects (and kills the process) if the demo exits first
/// or does not listen within `timeoutMs`.
///
/// `stop(ms = 5000)` sends SIGTERM, waits for the exit within `ms`, then
/// SIGKILLs; it resolves with `{code, signal, killed}` and is idempotent.
export async function startDemo(demoPath, extraArgs = [], { timeoutMs = 10000, env } = {}) {
  if (!demoPath || !fs.existsSync(demoPath)) {
    throw new Error(`herald-demo not found at '${demoPath}' (pass its path as the first argument)`);
  }
  const args = extraArgs.includes('--port') ? [...extraArgs] : ['--port', '0', ...extraArgs];
  const proc = spawn(demoPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  live.add(proc);
  let out = '', err = '';
  let exited = null;  // {code, signal} once it has exited
  const exit = new Promise((resolve) => {
    proc.on('exit', (code, signal) => { exited = { code, signal }; live.delete(proc); resolve(exited); });
  });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { err += d; });
  proc.stdout.setEncoding('utf8');

  const listening = new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      out += d;
      const m = LISTENING.exec(out);
      if (m) resolve({ host: m[1], port: Number(m[2]) });
    });
    proc.on('error', (e) => reject(new Error(`cannot start ${demoPath}: ${e.message}`)));
    exit.then(({ code, signal }) =>
      reject(new Error(`herald-demo exited (code ${code}, signal ${signal}) before listening; stderr: ${err.trim()}`)));
  });

  let stopping = null;
  const stop = (ms = 5000) => {
    if (stopping) return stopping;
    stopping = (async () => {
      if (exited) return { ...exited, killed: false };
      proc.kill('SIGTERM');
      try {
        return { ...(await withTimeout(exit, ms, 'herald-demo exit after SIGTERM')), killed: false };
      } catch {
        proc.kill('SIGKILL');
        return { ...(await withTimeout(exit, 5000, 'herald-demo exit after SIGKILL')), killed: true };
      }
    })();
    return stopping;
  };

  let where;
  try {
    where = await withTimeout(listening, timeoutMs, `herald-demo ${args.join(' ')} to print 'listening on'`);
  } catch (e) {
    await stop(1000).catch(() => {});
    throw e;
  }
  // The demo binds 127.0.0.1 unless told otherwise; a wildcard is reached on loopback.
  let host = where.host;
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '[::]') host = '[::1]';
  return {
    url: `http://${host}:${where.port}`,
    port: where.port,
    proc,
    stop,
    output: () => ({ stdout: out, stderr: err }),
    exited: () => exited,
  };
}

/// POSTs `data` to /publish/{topic}; resolves with the event id. Throws unless 202.
export async function publish(url, topic, data, { timeoutMs = 5000, headers = {} } = {}) {
  const r = await withTimeout(
    fetch(`${url}/publish/${encodeURIComponent(topic)}`, { method: 'POST', body: data, headers }),
    timeoutMs, `POST /publish/${topic}`);
  const text = await withTimeout(r.text(), timeoutMs, `body of POST /publish/${topic}`);
  if (r.status !== 202) throw new Error(`POST /publish/${topic}: ${r.status} ${text}`);
  return JSON.parse(text).id;
}

/// Runs a test body with a checker and cleanups, prints one summary line and
/// exits: 0 when every check passed and nothing threw, else 1.
///
/// `t.check(name, cond, detail)` records a check; `t.defer(x)` registers `x`
/// (anything with `stop()` or `close()`, or a function) to be cleaned up in
/// reverse order however the body ends, and returns `x`.
export async function run(name, body, { timeoutMs = 240000 } = {}) {
  let passed = 0;
  const failures = [];
  const cleanups = [];
  const t = {
    check(what, cond, detail = '') {
      if (cond) passed++;
      else {
        failures.push(`${what}${detail ? `: ${detail}` : ''}`);
        console.error(`  FAIL ${what}${detail ? `: ${detail}` : ''}`);
      }
      return !!cond;
    },
    defer(x) { cleanups.push(x); return x; },
    log(...a) { console.log(`  ${a.join(' ')}`); },
  };
  let crashed = null;
  try {
    await withTimeout(body(t), timeoutMs, name);
  } catch (e) {
    crashed = e;
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        if (typeof c === 'function') await withTimeout(c(), 15000, 'cleanup');
        else if (c && typeof c.stop === 'function') await withTimeout(c.stop(), 15000, 'cleanup stop()');
        else if (c && typeof c.close === 'function') await withTimeout(c.close(), 15000, 'cleanup close()');
      } catch (e) {
        console.error(`  cleanup failed: ${e.message}`);
      }
    }
  }
  if (crashed) failures.push(`threw: ${crashed.stack ?? crashed}`);
  const ok = failures.length === 0;
  console.log(`${name}: ${ok ? 'PASS' : 'FAIL'} (${passed} checks passed, ${failures.length} failed)`);
  for (const f of failures) console.log(`  - ${f}`);
  process.exit(ok ? 0 : 1);
}
