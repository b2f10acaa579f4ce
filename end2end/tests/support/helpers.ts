import { Browser, Page, expect } from '@playwright/test';

/** Signs `user` in (password "demo1234") in a fresh browser context and waits for a live board. */
export async function signIn(browser: Browser, user: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`[${user}] page error: ${e.message}`));
  await page.goto('/login');
  // Hydration done: the form's handlers are attached.
  await expect(page.locator('form[data-hydrated="true"]')).toBeVisible({ timeout: 30_000 });
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill('demo1234');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname !== '/login');
  await waitLive(page);
  return page;
}

/** Waits until the page is hydrated and its board socket is connected. The first page load also
 * compiles the app's wasm, which takes a while on a busy machine. */
export async function waitLive(page: Page) {
  await expect(page.locator('[data-conn="live"]')).toBeVisible({ timeout: 30_000 });
}

export function row(page: Page, leadId: string) {
  return page.locator(`tr[data-lead="${leadId}"]`);
}
