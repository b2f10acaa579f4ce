import { expect, test } from './support/test';
import { signIn, signInOn, waitHydrated } from './support/helpers';

test('changing your own password needs the current one and signs your other sessions out', async ({ browser }) => {
  // A fresh account, so the other specs' demo users keep their password.
  const user = `pw${Date.now() % 1_000_000_000}`;
  const manager = await signIn(browser, 'maria');
  const accounts = manager.locator('.accounts-card');
  await accounts.getByPlaceholder('username').fill(user);
  await accounts.getByPlaceholder('password').fill('demo1234');
  await accounts.getByRole('button', { name: 'Create account' }).click();
  await expect(accounts.locator(`tr[data-account="${user}"]`)).toBeVisible();

  const laptop = await signIn(browser, user);
  const phone = await signIn(browser, user);

  // The name in the header leads to the account page.
  await laptop.getByRole('link', { name: user }).click();
  await expect(laptop).toHaveURL(/\/account$/);
  await expect(laptop.getByRole('heading', { name: 'Your account' })).toBeVisible();
  await waitHydrated(laptop);
  const form = laptop.locator('form.account-form');

  // The two new ones must agree; nothing is sent until they do.
  await form.getByLabel('Current password').fill('demo1234');
  await form.getByLabel('New password (8 characters or more)').fill('correct horse');
  await form.getByLabel('New password again').fill('correct hose');
  await form.getByRole('button', { name: 'Change password' }).click();
  await expect(form.getByRole('alert')).toContainText('the new passwords differ');

  // A wrong current password is refused, with a reason.
  await form.getByLabel('Current password').fill('not my password');
  await form.getByLabel('New password again').fill('correct horse');
  await form.getByRole('button', { name: 'Change password' }).click();
  await expect(form.getByRole('alert')).not.toBeEmpty();
  await expect(form.getByRole('status')).toBeEmpty();

  await form.getByLabel('Current password').fill('demo1234');
  await form.getByRole('button', { name: 'Change password' }).click();
  await expect(form.getByRole('status')).toContainText('Password changed');
  await expect(form.getByRole('alert')).toBeEmpty();

  // The other session has ended: its board goes to sign-in by itself (a reload here would race
  // that navigation), where only the new password works.
  await phone.waitForURL(/\/login$/, { timeout: 10_000 });
  await waitHydrated(phone);
  await phone.getByLabel('Username').fill(user);
  await phone.getByLabel('Password').fill('demo1234');
  await phone.getByRole('button', { name: 'Sign in' }).click();
  await expect(phone.getByRole('alert')).not.toBeEmpty();

  // This browser stays signed in.
  await laptop.goto('/');
  await expect(laptop).toHaveURL(/\/$/);
  await signInOn(await (await browser.newContext()).newPage(), user, 'correct horse');
});
