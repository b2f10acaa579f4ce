import { Browser, Page, expect } from '@playwright/test';

/** Signs `user` in (password "demo") in a fresh browser context and waits for a live board. */
export async function signIn(browser: Browser, user: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto('/login');
  // Hydration done: the form's handlers are attached.
  await expect(page.locator('form[data-hydrated="true"]')).toBeVisible();
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill('demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname !== '/login');
  await waitLive(page);
  return page;
}

/** Waits until the page is hydrated and its board socket is connected. */
export async function waitLive(page: Page) {
  await expect(page.locator('[data-conn="live"]')).toBeVisible();
}

export function row(page: Page, leadId: string) {
  return page.locator(`tr[data-lead="${leadId}"]`);
}
