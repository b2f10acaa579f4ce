import { expect, test } from './support/test';
import { row, waitHydrated, waitLive } from './support/helpers';

test('keyboard only: sign in, find a lead, claim it, release it', async ({ page }) => {
  const lead = 'L00123';
  await page.goto('/login');
  await waitHydrated(page);
  // The username field has focus on arrival.
  await expect(page.getByLabel('Username')).toBeFocused();
  await page.keyboard.type('bob');
  await page.keyboard.press('Tab');
  await page.keyboard.type('demo1234');
  await page.keyboard.press('Enter');
  await page.waitForURL((url) => url.pathname === '/');
  await waitLive(page);

  // `/` goes to search; typing there does not trigger shortcuts ("c" is in "Acme"...).
  await page.keyboard.press('/');
  const search = page.getByRole('searchbox', { name: 'Search leads' });
  await expect(search).toBeFocused();
  await page.keyboard.type(lead);
  await expect(page.locator('tbody tr[data-lead]')).toHaveCount(1);
  await expect(row(page, lead)).toHaveAttribute('data-assignee', '');
  // Escape leaves the search box for the first lead.
  await page.keyboard.press('Escape');
  await expect(row(page, lead)).toBeFocused();

  await page.keyboard.press('c');
  await expect(row(page, lead).locator('.you')).toHaveText('You');
  await expect(row(page, lead)).toHaveAttribute('data-assignee', 'bob');
  await expect(page.locator('.toast.good')).toContainText(`You got ${lead}`);
  // Focus is still on the lead, so the next key acts on it.
  await expect(row(page, lead)).toBeFocused();
  await page.keyboard.press('r');
  await expect(row(page, lead)).toHaveAttribute('data-assignee', '');
  await expect(row(page, lead).getByRole('button', { name: /^Claim/ })).toBeVisible();

  // Tab and Enter work as well: from the lead to the link to its page, then its Claim button.
  await page.keyboard.press('Tab');
  await expect(row(page, lead).locator('a.lead-name')).toBeFocused();
  await expect(row(page, lead).locator('a.lead-name')).toHaveAttribute('href', `/leads/${lead}`);
  await page.keyboard.press('Tab');
  await expect(row(page, lead).getByRole('button', { name: /^Claim/ })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(row(page, lead)).toHaveAttribute('data-assignee', 'bob');
  await expect(row(page, lead)).toBeFocused();
  await page.keyboard.press('r');
  await expect(row(page, lead)).toHaveAttribute('data-assignee', '');
});

test('j and k move through the leads, arrows page, ? opens the help and Escape gives focus back', async ({ page }) => {
  await page.goto('/login');
  await waitHydrated(page);
  await page.getByLabel('Username').fill('carol');
  await page.getByLabel('Password').fill('demo1234');
  await page.keyboard.press('Enter');
  await waitLive(page);

  const rows = page.locator('tbody tr[data-lead]');
  await page.keyboard.press('j');
  await expect(rows.nth(0)).toBeFocused();
  await page.keyboard.press('j');
  await page.keyboard.press('ArrowDown');
  await expect(rows.nth(2)).toBeFocused();
  await page.keyboard.press('k');
  await expect(rows.nth(1)).toBeFocused();

  await page.keyboard.press('ArrowRight');
  await expect(page.getByTestId('page-status')).toContainText('Page 2 of');
  await expect(rows.nth(0)).toBeFocused();
  await page.keyboard.press('ArrowLeft');
  await expect(page.getByTestId('page-status')).toContainText('Page 1 of');

  await page.keyboard.press('j');
  const focused = await page.evaluate(() => document.activeElement?.getAttribute('data-lead'));
  await page.keyboard.press('?');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await expect(help).toBeVisible();
  await expect(help.getByRole('button', { name: 'Close' })).toBeFocused();
  // Shortcuts do not act behind the dialog.
  await page.keyboard.press('j');
  await expect(page.getByTestId('page-status')).toContainText('Page 1 of');
  await page.keyboard.press('Escape');
  await expect(help).toBeHidden();
  expect(await page.evaluate(() => document.activeElement?.getAttribute('data-lead'))).toBe(focused);
});
