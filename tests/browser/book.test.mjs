// A fan books and pays seats end to end: join, admitted, concerts, a 5,000-seat map by keyboard,
// hold two seats, balance short, charge, pay, confirmation, the other hold paid within the spent
// token's grace; a reload resumes; a lost connection is shown and retried.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, createConcert, dayFromToday, joinLine, launch, newFan, noErrors, screen, snap, startServer, uid, visible, waitFor } from './harness.mjs';

let srv, browser;
before(async () => { srv = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); await srv?.stop(); });

test('a fan books and pays seats end to end', { timeout: 240000 }, async () => {
  const T = 'book';
  const prices = Array.from({ length: 50 }, (_, i) => (i < 10 ? 150000 : i < 30 ? 110000 : 70000));
  const small = await createConcert(srv, { title: '겨울밤 재즈 콘서트', venue: '세종문화회관 대극장', date: dayFromToday(10), prices });
  const big = await createConcert(srv, { title: '새해 맞이 K-POP 페스티벌', venue: '고척 스카이돔', date: dayFromToday(24), seatCount: 5000, price: 99000 });
  const { page } = await newFan(browser, srv);

  // join: validated like the API before anything is sent
  await visible(page, 'join');
  await snap(page, T, '01-join');
  await page.getByLabel('아이디').fill('팬 한명!');
  await page.getByRole('button', { name: '줄 서기' }).click();
  await page.getByTestId('join-error').getByText('아이디는 영문').waitFor();
  await snap(page, T, '02-join-invalid');

  const user = uid('fan');
  await joinLine(page, user);
  await visible(page, 'concerts');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'h-concerts', 'focus on the new screen heading');
  await page.getByTestId(`concert-${small}`).waitFor();
  await page.getByTestId(`concert-${big}`).waitFor();
  await snap(page, T, '03-concerts');

  // the 5,000-seat map: sections of 100, one tab stop, arrows and PageDown move
  await page.getByTestId(`concert-${big}`).click();
  await visible(page, 'seats');
  await page.getByTestId('seat-1').waitFor();
  assert.equal(await page.getByTestId('section-select').locator('option').count(), 50);
  assert.equal(await page.locator('#seat-grid button').count(), 100);
  assert.equal(await page.locator('#seat-grid button[tabindex="0"]').count(), 1, 'one tab stop in the grid');
  await page.getByTestId('back-concerts').focus();
  await page.keyboard.press('Tab'); // the section picker
  await page.keyboard.press('Tab'); // into the grid
  assert.equal(await page.evaluate(() => document.activeElement.dataset.seat), '1');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.seat), '12');
  await page.keyboard.press('PageDown');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.seat), '112');
  assert.equal(await page.getByTestId('section-select').inputValue(), '1');
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: '112번 좌석 잡기' }).waitFor();
  await snap(page, T, '04-seats-5000');
  await page.getByTestId('back-concerts').click();

  // the 50-seat map, by keyboard too
  await visible(page, 'concerts');
  await page.getByTestId(`concert-${small}`).click();
  await visible(page, 'seats');
  await page.getByTestId('seat-50').waitFor();
  assert.equal(await page.locator('#section-pick').isVisible(), false, 'no sections for 50 seats');
  await snap(page, T, '05-seats-50');

  // a lost connection: banner while the seat map refresh fails, gone once it is back
  await page.context().setOffline(true);
  await page.getByTestId('net-banner').waitFor({ state: 'visible', timeout: 10000 });
  await snap(page, T, '06-offline');
  await page.context().setOffline(false);
  await page.getByTestId('net-banner').waitFor({ state: 'hidden', timeout: 20000 });

  await page.getByTestId('seat-5').click();
  await page.getByTestId('hold-button').click();
  await visible(page, 'checkout');
  const hold5 = page.getByTestId(`hold-${small}-5`);
  await hold5.waitFor();
  assert.match(await hold5.getByTestId('hold-countdown').innerText(), /^[45]:\d\d$/);
  await snap(page, T, '07-hold');

  // a second seat, then a reload resumes on the checkout with both holds
  await page.getByTestId('more-seats').click();
  await visible(page, 'seats');
  await page.getByTestId('seat-6').click();
  await page.getByTestId('hold-button').click();
  await visible(page, 'checkout');
  await page.reload();
  await visible(page, 'checkout');
  await page.getByTestId(`hold-${small}-5`).waitFor();
  await page.getByTestId(`hold-${small}-6`).waitFor();

  // balance 0: paying says so in Korean, in place
  await page.getByTestId('balance').filter({ hasText: /^0원$/ }).waitFor();
  await hold5.getByTestId('pay-button').click();
  await hold5.getByTestId('hold-alert').getByText('잔액이 부족합니다').waitFor();
  assert.doesNotMatch(await hold5.getByTestId('hold-alert').innerText(), /INSUFFICIENT|[A-Z]{2,}_[A-Z]/);
  await snap(page, T, '08-balance-short');

  // charge (Idempotency-Key), then pay
  await page.getByTestId('charge-amount').fill('300,000');
  await page.getByTestId('charge-submit').click();
  await page.getByTestId('charge-msg').getByText('충전했습니다').waitFor();
  await page.getByTestId('balance').filter({ hasText: /^300,000원$/ }).waitFor();
  await page.getByTestId('due').filter({ hasText: '잔액으로 모두 결제할 수 있습니다' }).waitFor();
  assert.equal(await hold5.getByTestId('hold-alert').innerText(), '', 'the "balance short" message is gone after the charge');
  await snap(page, T, '09-charged');
  await hold5.getByTestId('pay-button').click();
  await visible(page, 'done');
  await page.getByTestId('ticket').getByText('5번').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'h-done');
  await snap(page, T, '10-done');

  // the other hold, paid with the spent token within its grace
  await page.getByTestId('pay-others').click();
  await visible(page, 'checkout');
  await page.getByTestId(`hold-${small}-6`).getByTestId('pay-button').click();
  await visible(page, 'done');
  await page.getByTestId('ticket').getByText('6번').waitFor();
  assert.equal(await page.getByTestId('done-paid').locator('li').count(), 2, 'both seats listed as booked');
  await snap(page, T, '11-done-grace');

  const seats = (await call(srv, 'GET', `/api/concerts/${small}/seats`)).data.seats;
  assert.equal(seats[4].status, 'reserved');
  assert.equal(seats[5].status, 'reserved');
  const bal = await call(srv, 'GET', `/api/users/${user}/balance`);
  assert.equal(bal.data.balance, 300000 - 2 * 150000);
  assert.equal(await screen(page, 'done').isVisible(), true);
  noErrors(page);
});
