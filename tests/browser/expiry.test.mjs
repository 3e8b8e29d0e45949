// A hold runs out (--hold-ttl 4): the page counts down, then says the seat was released, and the
// fan can choose again; then the fan's entry runs out (--active-ttl 20): the page says so and offers
// to rejoin, which lets the fan back in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConcert, dayFromToday, joinLine, launch, newFan, noErrors, snap, startServer, uid, visible } from './harness.mjs';

let srv, browser;
before(async () => { srv = await startServer({ flags: ['--hold-ttl', '4', '--active-ttl', '20'] }); if (!srv.skip) browser = await launch(); });
after(async () => { await browser?.close(); await srv?.stop?.(); });

test('a hold runs out and the page says so', { timeout: 120000 }, async (t) => {
  if (srv.skip) { t.skip(srv.skip); return; }
  const T = 'expiry';
  const concert = await createConcert(srv, { title: '가을 발라드 콘서트', venue: '블루스퀘어 신한카드홀', date: dayFromToday(5), seatCount: 50, price: 90000 });
  const { page } = await newFan(browser, srv);
  await joinLine(page, uid('late'));
  await visible(page, 'concerts');
  await page.getByTestId(`concert-${concert}`).click();
  await visible(page, 'seats');
  await page.getByTestId('seat-23').click();
  await page.getByTestId('hold-button').click();
  await visible(page, 'checkout');
  const card = page.getByTestId(`hold-${concert}-23`);
  await card.getByTestId('hold-countdown').filter({ hasText: /^0:0[1-4]$/ }).waitFor();

  await card.getByTestId('hold-alert').filter({ hasText: '시간이 지나 23번 좌석이 풀렸습니다' }).waitFor({ timeout: 10000 });
  assert.equal(await card.getByTestId('pay-button').isVisible(), false, 'no pay button on an expired hold');
  await snap(page, T, '01-expired');

  await card.getByTestId('reselect').click();
  await visible(page, 'seats');
  await page.locator('[data-testid="seat-23"].free').waitFor({ timeout: 10000 });
  await snap(page, T, '02-reselect');

  // the active window closes: no new holds; the page says so and offers to rejoin
  await visible(page, 'ended', 30000);
  await page.getByTestId('ended-text').filter({ hasText: '입장 시간이 끝났습니다' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'h-ended');
  await snap(page, T, '03-entry-ended');
  await page.getByTestId('rejoin').click();
  await visible(page, 'concerts');
  await page.getByTestId(`concert-${concert}`).waitFor();
  noErrors(page);
});
