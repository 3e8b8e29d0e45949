// With --user-auth-secret the operator's login service signs the fan's id (X-User-Auth) and sends
// the fan to /#auth=<signed value>: the page takes it out of the address, fixes the id, sends it
// with its calls, and shows a refused one in Korean.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { launch, newFan, noErrors, snap, startServer, uid, visible } from './harness.mjs';

const SECRET = 'browser-login-secret';
let srv, browser;
before(async () => { srv = await startServer({ flags: ['--user-auth-secret', SECRET] }); if (!srv.skip) browser = await launch(); });
after(async () => { await browser?.close(); await srv?.stop(); });

function signed(userId, secret = SECRET) {
  const expiry = Math.floor(Date.now() / 1000) + 600;
  const mac = createHmac('sha256', secret).update(`${userId}.${expiry}`).digest('hex');
  return `${userId}.${expiry}.${mac}`;
}

test('a fan sent by the login service joins with the signed id', { timeout: 120000 }, async (t) => {
  if (srv.skip) return t.skip(srv.skip);
  const T = 'login';
  const user = uid('signed.fan');  // a dot in the id: the value is split from the right
  const { page } = await newFan(browser, srv, `/#auth=${encodeURIComponent(signed(user))}`);
  await visible(page, 'join');
  assert.equal(new URL(page.url()).hash, '', 'the signed value leaves the address bar');
  const field = page.getByLabel('아이디');
  assert.equal(await field.inputValue(), user);
  assert.equal(await field.evaluate((el) => el.readOnly), true);
  await snap(page, T, '01-signed-in');
  await page.getByRole('button', { name: '줄 서기' }).click();
  await visible(page, 'concerts');
  noErrors(page);
});

test('a login the server refuses is shown in Korean', { timeout: 120000 }, async (t) => {
  if (srv.skip) return t.skip(srv.skip);
  const T = 'login';
  const { page } = await newFan(browser, srv, `/#auth=${encodeURIComponent(signed(uid('forged'), 'not-the-secret'))}`);
  await visible(page, 'join');
  await page.getByRole('button', { name: '줄 서기' }).click();
  await page.getByTestId('join-error').getByText('로그인 확인이 필요합니다').waitFor();
  assert.doesNotMatch(await page.getByTestId('join-error').innerText(), /USER_AUTH|[A-Z]{2,}_[A-Z]/);
  await snap(page, T, '02-refused');
});
