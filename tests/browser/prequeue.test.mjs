// A fan waits in the pre-queue: sees the countdown to opensAt, is placed in line at the opening,
// polls no faster than pollAfterSeconds, and is admitted when the only slot (--max-active 1) frees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, createConcert, dayFromToday, joinLine, launch, newFan, noErrors, snap, startServer, uid, visible } from './harness.mjs';

let srv, browser;
before(async () => { srv = await startServer({ flags: ['--max-active', '1'] }); if (!srv.skip) browser = await launch(); });
after(async () => { await browser?.close(); await srv?.stop?.(); });

test('a fan waits in the pre-queue and is admitted when a slot frees', { timeout: 240000 }, async (t) => {
  if (srv.skip) { t.skip(srv.skip); return; }
  const T = 'prequeue';
  const concert = await createConcert(srv, { title: '여름 록 페스티벌', venue: '올림픽공원 88잔디마당', date: dayFromToday(30), seatCount: 50, price: 60000 });

  // fan A takes the only slot before the sale opens
  const a = uid('holder');
  const ta = await call(srv, 'POST', '/api/queue/token', { body: { userId: a } });
  assert.equal(ta.data.status, 'active', JSON.stringify(ta.data));

  const { page } = await newFan(browser, srv);
  // the opening, a few seconds ahead
  const opensAt = new Date(Date.now() + 10000).toISOString();
  const room = await call(srv, 'POST', '/api/admin/queue', { body: { opensAt }, admin: true });
  assert.equal(room.status, 200, JSON.stringify(room.data));
  // every poll of the line (the token request counts as one): when it was sent, and the pace its answer asked for
  const polls = [];
  page.on('request', (r) => {
    const u = new URL(r.url()).pathname;
    if (u === '/api/queue/status' || u === '/api/queue/token') polls.push({ at: Date.now(), req: r, asked: null });
  });
  page.on('response', async (r) => {
    const p = polls.find((x) => x.req === r.request());
    if (!p) return;
    try { p.asked = (await r.json()).pollAfterSeconds ?? null; } catch { /* not JSON */ }
  });
  await joinLine(page, uid('fan'));
  await visible(page, 'prequeue');
  await page.getByTestId('open-countdown').filter({ hasText: /초/ }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'h-prequeue');
  await snap(page, T, '01-countdown');

  // placed at the opening: A holds the slot, so B waits at place 1
  await visible(page, 'waiting', 60000);
  await page.getByTestId('place').filter({ hasText: /^1$/ }).waitFor();
  await page.getByTestId('announcer').filter({ hasText: '대기 순번 1번' }).waitFor({ state: 'attached' });
  const bar = page.getByTestId('wait-progress');
  assert.ok(Number(await bar.getAttribute('aria-valuenow')) > 0);
  await snap(page, T, '02-waiting');

  // A buys a seat: paying spends A's token and frees the slot
  const hold = await call(srv, 'POST', '/api/reservations', { token: ta.data.token, body: { concertId: concert, seatNumber: 50 } });
  assert.equal(hold.status, 201, JSON.stringify(hold.data));
  assert.equal((await call(srv, 'POST', `/api/users/${a}/balance`, { token: ta.data.token, body: { amount: 60000 }, idem: uid('k') })).status, 200);
  const paid = await call(srv, 'POST', '/api/payments', { token: ta.data.token, body: { reservationId: hold.data.reservationId }, idem: uid('k') });
  assert.equal(paid.status, 200, JSON.stringify(paid.data));

  await visible(page, 'concerts', 60000);
  await page.getByTestId(`concert-${concert}`).waitFor();
  await snap(page, T, '03-admitted');

  // never faster than the server asked
  assert.ok(polls.length >= 3, `polled ${polls.length} times`);
  for (let i = 1; i < polls.length; i++) {
    const gap = polls[i].at - polls[i - 1].at, asked = polls[i - 1].asked;
    if (asked != null) assert.ok(gap >= asked * 1000 - 200, `poll ${i} sent ${gap} ms after one whose answer asked for ${asked} s`);
  }
  noErrors(page);
});
