// Shared harness for browser tests: headless Debian Chromium driven by
// playwright-core (never a downloaded browser), screenshots, and everything
// in tests/integration/lib.mjs (startDemo, withTimeout, publish, run, ...).
//
//   import { startDemo, launchBrowser, screenshot, run } from './lib.mjs';
//   await run('my browser test', async (t) => {
//     const demo = t.defer(await startDemo(process.argv[2]));
//     const browser = t.defer(await launchBrowser());
//     const page = await browser.newPage();
//     await page.goto(`${demo.url}/healthz`);   // a same-origin context
//     ...
//     await screenshot(page, 'my-test');
//   });
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { withTimeout } from '../integration/lib.mjs';

export * from '../integration/lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'package.json'));  // tests/node_modules

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
export const SCREENSHOTS = path.resolve(here, '..', 'screenshots');

/// Launches headless Chromium with a fresh profile from `fs.mkdtemp`.
/// Resolves with `{context, newPage(), close()}`; `close()` ends the browser
/// (bounded) and removes the profile. playwright-core refuses
/// `--user-data-dir` in `args`, so the profile goes through
/// `launchPersistentContext`.
export async function launchBrowser({ timeoutMs = 30000 } = {}) {
  const { chromium } = require('playwright-core');
  const userDataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'herald-chromium-'));
  let context;
  try {
    context = await withTimeout(chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: timeoutMs,
    }), timeoutMs + 1000, `launch ${CHROMIUM}`);
  } catch (e) {
    await fs.rm(userDataDir, { recursive: true, force: true });
    throw e;
  }
  let closing = null;
  return {
    context,
    userDataDir,
    newPage: () => withTimeout(context.newPage(), timeoutMs, 'new page'),
    close() {
      closing ??= (async () => {
        try { await withTimeout(context.close(), 10000, 'close Chromium'); }
        finally { await fs.rm(userDataDir, { recursive: true, force: true }); }
      })();
      return closing;
    },
  };
}

/// Saves a full-page PNG as tests/screenshots/NAME.png (gitignored); returns its path.
export async function screenshot(page, name) {
  await fs.mkdir(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.png`);
  await withTimeout(page.screenshot({ path: file, fullPage: true }), 15000, `screenshot ${name}`);
  return file;
}
