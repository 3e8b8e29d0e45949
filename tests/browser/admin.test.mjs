// The operators' dashboard at /admin (--max-active 1): a wrong key is refused in Korean, the tiles
// follow /api/admin/queue, the operator pauses the line, raises maxActive through the form, and a
// fan who joins meanwhile keeps waiting until the operator resumes; a concert made through the form
// appears in the sales table.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, call, dayFromToday, joinLine, launch, newFan, noErrors, snap, startServer, uid, visible, waitFor } from './harness.mjs';

let srv, browser;
before(async () => { srv = await startServer({ flags: ['--max-active', '1'] }); if (!srv.skip) browser = await launch(); });
after(async () => { await browser?.close(); await srv?.stop?.(); });

/** The operator: a desktop-sized context of its own; JS errors are collected as newFan does. */
async function newOperator() {
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'ko-KR', timezoneId: 'Asia/Seoul' });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) page.errors.push(m.text()); });
  await page.goto(srv.url + '/admin');
  return { context, page };
}

/** The first number a stat tile shows ("1 / 2명" is 1), or null while it shows "—". */
async function tile(page, name) {
  const m = /[\d,]+/.exec(await page.getByTestId(`stat-${name}`).locator('[data-stat]').innerText());
  return m ? Number(m[0].replace(/,/g, '')) : null;
}

/** Until the tiles show what /api/admin/queue says (the page polls every 2 s). */
async function tilesMatchQueue(page) {
  let q;
  await waitFor(async () => {
    q = (await call(srv, 'GET', '/api/admin/queue', { admin: true })).data;
    return (await tile(page, 'waiting')) === q.waiting && (await tile(page, 'active')) === q.active;
  }, 'the tiles to match /api/admin/queue');
  return q;
}

test("the operator pauses and resumes the line and the fan's page follows", { timeout: 240000 }, async (t) => {
  if (srv.skip) { t.skip(srv.skip); return; }
  const T = 'admin';
  const { page } = await newOperator();

  // the key gate: a wrong key is refused in place, in Korean, and the field keeps the focus
  await page.getByTestId('gate').waitFor();
  await snap(page, T, 'login');
  await page.getByLabel('관리자 키').fill('not-the-key');
  await page.getByRole('button', { name: '확인' }).click();
  await page.getByTestId('key-error').getByText('관리자 키가 올바르지 않습니다').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'admin-key');
  assert.equal(await page.getByTestId('dash').isVisible(), false);
  await snap(page, T, 'bad-key');

  await page.getByLabel('관리자 키').fill(srv.adminKey);
  await page.getByRole('button', { name: '확인' }).click();
  await page.getByTestId('updated').filter({ hasText: /마지막 갱신 \d\d:\d\d:\d\d/ }).waitFor();
  assert.equal(await page.getByTestId('room-state').innerText(), '입장 진행 중');

  // fan A takes the only slot; the tiles say so
  const a = await newFan(browser, srv);
  await joinLine(a.page, uid('fan-a'));
  await visible(a.page, 'concerts');
  let q = await tilesMatchQueue(page);
  assert.deepEqual([q.waiting, q.active, q.maxActive], [0, 1, 1]);
  assert.match(await page.getByTestId('stat-active').innerText(), /1 \/ 1명/);
  await snap(page, T, 'live');

  // pause, then make room for one more: nobody new is let in while paused
  await page.getByTestId('pause-toggle').click();
  await page.getByTestId('room-state').filter({ hasText: '일시 정지됨' }).waitFor();
  assert.equal(await page.getByTestId('pause-toggle').innerText(), '입장 재개');
  await snap(page, T, 'paused');
  await page.getByLabel('동시 입장 인원').fill('2');
  await page.getByTestId('room-save').click();
  await page.getByTestId('room-msg').getByText('저장했습니다').waitFor();
  q = (await call(srv, 'GET', '/api/admin/queue', { admin: true })).data;
  assert.equal(q.maxActive, 2);
  assert.equal(q.paused, true);

  // fan B joins and keeps waiting at place 1 through several of its polls
  const b = await newFan(browser, srv);
  const polls = [];
  b.page.on('response', async (r) => {
    if (new URL(r.url()).pathname !== '/api/queue/status') return;
    try { polls.push(await r.json()); } catch { /* not JSON */ }
  });
  await joinLine(b.page, uid('fan-b'));
  await visible(b.page, 'waiting');
  await b.page.getByTestId('place').filter({ hasText: /^1$/ }).waitFor();
  await waitFor(() => polls.length >= 3, "three of fan B's polls while paused", { timeout: 30000 });
  assert.ok(polls.every((p) => p.status === 'waiting'), JSON.stringify(polls));
  q = await tilesMatchQueue(page);
  assert.deepEqual([q.waiting, q.active], [1, 1]);
  assert.equal(await b.page.getByTestId('screen-waiting').isVisible(), true);
  await snap(b.page, T, 'fan-waiting-paused');

  // resume: fan B is let in on its next poll
  await page.getByTestId('pause-toggle').click();
  await page.getByTestId('room-state').filter({ hasText: '입장 진행 중' }).waitFor();
  const pace = polls[polls.length - 1].pollAfterSeconds || 1;
  await visible(b.page, 'concerts', (pace + 5) * 1000);
  await snap(b.page, T, 'fan-admitted');
  q = await tilesMatchQueue(page);
  assert.deepEqual([q.waiting, q.active], [0, 2]);

  // a concert made through the form: a bad price is refused in place, then it is made and listed
  const title = '운영자가 만든 송년 음악회';
  await page.getByLabel('공연 이름').fill(title);
  await page.getByLabel('공연장').fill('예술의전당 콘서트홀');
  await page.getByLabel('공연 날짜').fill(dayFromToday(40));
  await page.getByLabel('좌석 수').fill('30');
  await page.getByLabel('좌석 가격 (원)').fill('500');
  await page.getByTestId('new-submit').click();
  await page.getByTestId('concert-msg').getByText('1,000원부터').waitFor();
  assert.equal(await page.getByLabel('좌석 가격 (원)').getAttribute('aria-invalid'), 'true');
  await page.getByLabel('좌석 가격 (원)').fill('55,000');
  await page.getByTestId('new-submit').click();
  const made = await page.getByTestId('concert-msg').filter({ hasText: /공연을 만들었습니다 \(번호 \d+\)/ }).innerText();
  const concertId = Number(/번호 (\d+)/.exec(made)[1]);
  const row = page.getByTestId(`sales-row-${concertId}`);
  await row.waitFor();
  assert.match(await row.innerText(), new RegExp(title));
  const sales = (await call(srv, 'GET', `/api/concerts/${concertId}/seats`)).data;
  assert.equal(sales.seats.length, 30);
  await snap(page, T, 'created');

  noErrors(page);
  noErrors(a.page);
  noErrors(b.page);
});
