// Shared helpers of the browser tests: the server under test, the browser, screenshots, axe-core.
//
// Server under test:
//   CONCERTD_WEB_URL=http://host:port  use that server (it serves / and /assets/* and /api/*); tests that
//                                      need start-up flags (--max-active, --hold-ttl) are skipped
//   otherwise                          start $CONCERTD_BIN serve (default build/concertd), which
//                                      serves the pages from inside the binary
// Engine of a started server: embedded (SQLite, in-process line), or with
//   CONCERTD_BROWSER_ENGINE=distributed and CONCERTD_BROWSER_PG_PORT, CONCERTD_BROWSER_REDIS_PORT
//   (set by with-backends.py, which starts the real servers) a fresh PostgreSQL database and Redis
//   database number per server. Screenshots then go to build/screenshots/distributed/.
// Browser: $CHROMIUM_BIN or /usr/bin/chromium (Debian's), never a downloaded one.
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '../..');
const ENGINE = process.env.CONCERTD_BROWSER_ENGINE || 'embedded';
export const SHOTS = path.join(REPO, 'build', 'screenshots', ...(ENGINE === 'distributed' ? ['distributed'] : []));
const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const PHONE = { width: 360, height: 740 };
export const DESKTOP = { width: 1280, height: 800 };

// ------------------------------------------------------------------------------------------
// Server under test
// ------------------------------------------------------------------------------------------
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

async function waitHttp(url, deadlineMs, check = (r) => r.ok) {
  const end = Date.now() + deadlineMs;
  let last = 'no answer';
  for (;;) {
    try {
      const r = await fetch(url);
      if (await check(r)) return;
      last = `HTTP ${r.status}`;
    } catch (e) { last = String(e); }
    if (Date.now() > end) throw new Error(`${url} did not answer in time (${last})`);
    await new Promise((r) => setTimeout(r, 100)); // polling interval of a deadline wait
  }
}

/** The flags that put a new server on its own PostgreSQL database and Redis database number. The
 * number comes from a counter in Redis's database 0, so that the test files (one process each)
 * never share one. */
function engineFlags() {
  if (ENGINE === 'embedded') return [];
  if (ENGINE !== 'distributed') throw new Error(`unknown CONCERTD_BROWSER_ENGINE ${ENGINE}`);
  const pg = process.env.CONCERTD_BROWSER_PG_PORT;
  const redis = process.env.CONCERTD_BROWSER_REDIS_PORT;
  if (!pg || !redis) throw new Error('distributed: CONCERTD_BROWSER_PG_PORT and CONCERTD_BROWSER_REDIS_PORT are unset (run through with-backends.py)');
  const n = execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', redis, 'INCR', 'concertd-browser-databases']).toString().trim();
  const db = `browser_${n}`;
  execFileSync('psql', ['-X', '-q', '-h', '127.0.0.1', '-p', pg, '-U', 'postgres', '-d', 'postgres', '-c', `CREATE DATABASE ${db}`]);
  return ['--postgres', `postgresql://postgres@127.0.0.1:${pg}/${db}`, '--redis', `redis://127.0.0.1:${redis}/${n}`];
}

/** Starts (or names) the server under test. `flags` are extra `concertd serve` flags. Returns
 * {url, adminKey, stop(), external} or {skip: reason} when an external server cannot take the flags. */
export async function startServer({ flags = [] } = {}) {
  const adminKey = process.env.CONCERTD_WEB_ADMIN_KEY || 'test-admin';
  if (process.env.CONCERTD_WEB_URL) {
    if (flags.length) return { skip: `needs concertd flags ${flags.join(' ')}; CONCERTD_WEB_URL names a running server` };
    return { url: process.env.CONCERTD_WEB_URL.replace(/\/$/, ''), adminKey, external: true, stop: async () => {} };
  }
  const bin = process.env.CONCERTD_BIN || path.join(REPO, 'build', 'concertd');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CONCERTD_')));
  const tmp = mkdtempSync(path.join(tmpdir(), 'concertd-web-'));
  const port = await freePort();
  const child = spawn(bin, ['serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', path.join(tmp, 'data'),
    '--admin-key', adminKey, '--no-demo', ...engineFlags(), ...flags], { env, cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = `http://127.0.0.1:${port}`;
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  await waitHttp(`${url}/`, 20000, async (r) => r.ok && /<html/i.test(await r.text()))
    .catch((e) => { child.kill('SIGKILL'); throw new Error(`${e.message}\n${out.slice(-2000)}`); });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    url, adminKey, external: false,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(t);
      }
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** A JSON request to the server under test (admin calls, or a second fan driven without a browser). */
export async function call(srv, method, p, { body, token, admin, idem } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (admin) headers['X-Admin-Key'] = srv.adminKey;
  if (idem) headers['Idempotency-Key'] = idem;
  const r = await fetch(srv.url + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let data = null;
  try { data = JSON.parse(text); } catch { data = text; }
  return { status: r.status, data };
}

export function dayFromToday(n) {
  return new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);
}

export async function createConcert(srv, concert) {
  const r = await call(srv, 'POST', '/api/admin/concerts', { body: concert, admin: true });
  if (r.status !== 201) throw new Error(`create concert: HTTP ${r.status} ${JSON.stringify(r.data)}`);
  return r.data.concertId;
}

export function uid(prefix) {
  return `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** Polls `fn` until it returns a truthy value; fails after `timeout` ms with `what`. */
export async function waitFor(fn, what, { timeout = 15000, interval = 100 } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

// ------------------------------------------------------------------------------------------
// Browser
// ------------------------------------------------------------------------------------------
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
}

/** A fresh fan: own context (own sessionStorage), phone-sized, Korean locale, at `where` (a path
 * of the server); JS errors are collected. */
export async function newFan(browser, srv, where = '/') {
  const context = await browser.newContext({ viewport: PHONE, locale: 'ko-KR', timezoneId: 'Asia/Seoul' });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) page.errors.push(m.text()); });
  await page.goto(srv.url + where);
  return { context, page };
}

export function screen(page, name) {
  return page.locator(`[data-testid="screen-${name}"]`);
}

export async function visible(page, name, timeout = 15000) {
  await screen(page, name).waitFor({ state: 'visible', timeout });
}

export async function joinLine(page, userId) {
  await visible(page, 'join');
  await page.getByLabel('아이디').fill(userId);
  await page.getByRole('button', { name: '줄 서기' }).click();
}

/** axe-core on the page as it is: fails on serious or critical violations. */
export async function axe(page, label) {
  const has = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!has) await page.addScriptTag({ content: AXE_SOURCE });
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ': ' + n.failureSummary) }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) throw new Error(`axe: ${bad.length} serious/critical violation(s) on ${label}:\n${JSON.stringify(bad, null, 2)}`);
  return violations;
}

/** Screenshots at phone and desktop widths (build/screenshots/<test>-<step>-{phone,desktop}.png), axe at both. */
export async function snap(page, test, step) {
  mkdirSync(SHOTS, { recursive: true });
  const before = page.viewportSize();
  for (const [name, size] of [['phone', PHONE], ['desktop', DESKTOP]]) {
    await page.setViewportSize(size);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await axe(page, `${test}-${step}-${name}`);
    await page.screenshot({ path: path.join(SHOTS, `${test}-${step}-${name}.png`), fullPage: true, animations: 'disabled', caret: 'initial' });
  }
  await page.setViewportSize(before);
}

/** No uncaught error or console error on the page. */
export function noErrors(page) {
  if (page.errors.length) throw new Error('errors on the page:\n' + page.errors.join('\n'));
}
