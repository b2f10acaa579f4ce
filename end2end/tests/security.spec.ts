import { Page } from '@playwright/test';
import { expect, test } from './support/test';
import { signIn, row } from './support/helpers';

/** Fails the test on any Content-Security-Policy violation the page reports. */
function watchCsp(page: Page, violations: string[]) {
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
}

test('a disabled user is signed out live', async ({ browser }) => {
  // A fresh account, so the other specs' demo users stay as they are.
  const user = `e2e${Date.now() % 1_000_000_000}`;
  const manager = await signIn(browser, 'maria');
  const violations: string[] = [];
  watchCsp(manager, violations);
  const accounts = manager.locator('.accounts-card');
  await accounts.getByPlaceholder('username').fill(user);
  await accounts.getByPlaceholder('password').fill('demo1234');
  await accounts.getByRole('button', { name: 'Create account' }).click();
  const account = accounts.locator(`tr[data-account="${user}"]`);
  await expect(account).toHaveAttribute('data-disabled', 'false');

  const employee = await signIn(browser, user);
  await expect(employee).toHaveURL(/\/$/);

  await account.getByRole('button', { name: `Disable ${user}` }).click();
  await expect(account).toHaveAttribute('data-disabled', 'true');
  // The board's socket is closed at once and the page goes to sign-in.
  await employee.waitForURL(/\/login$/, { timeout: 10_000 });
  await expect(employee.locator('form[data-hydrated="true"]')).toBeVisible({ timeout: 30_000 });
  // Signing in again is refused, with the answer a wrong password gets: the right password on a
  // disabled account must not confirm that it is right.
  await employee.getByLabel('Username').fill(user);
  await employee.getByLabel('Password').fill('demo1234');
  await employee.getByRole('button', { name: 'Sign in' }).click();
  await expect(employee.getByRole('alert')).toContainText('wrong username or password');
  expect(violations).toEqual([]);
});

test('a lead named like markup renders as text', async ({ browser }) => {
  const manager = await signIn(browser, 'maria');
  const id = `X${Date.now() % 1_000_000_000}`;
  const name = '<img src=x onerror=alert(1)>';
  const company = '"><script>alert(2)</script>';
  const res = await manager.request.post('/api/leads/add', { data: { id, name, company, value: 1 } });
  expect(res.status()).toBe(200);

  const employee = await signIn(browser, 'alice');
  const violations: string[] = [];
  watchCsp(employee, violations);
  const dialogs: string[] = [];
  employee.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await employee.reload();
  await expect(employee.locator('[data-conn="live"]')).toBeVisible({ timeout: 30_000 });
  // The new lead sorts after the demo leads, past the first page: find it.
  await employee.getByPlaceholder(/Search/).fill(id);
  const r = row(employee, id);
  await expect(r.locator('.lead-name')).toHaveText(name);
  await expect(r.locator('td').nth(1)).toHaveText(company);
  await expect(r.locator('img')).toHaveCount(0);
  await expect(r.locator('script')).toHaveCount(0);
  expect(dialogs).toEqual([]);
  expect(violations).toEqual([]);
});
