import { Browser, BrowserContextOptions, Page, expect } from '@playwright/test';

/**
 * Signs `user` in (password "demo1234") in a fresh browser context and waits for a live board.
 * `options` go to the context: another server's `baseURL`, a viewport.
 */
export async function signIn(browser: Browser, user: string, options: BrowserContextOptions = {}): Promise<Page> {
  const page = await (await browser.newContext(options)).newPage();
  await signInOn(page, user);
  return page;
}

/** Signs `user` in on `page` (the demo password unless given) and waits for a live board. */
export async function signInOn(page: Page, user: string, password = 'demo1234') {
  page.on('pageerror', (e) => console.log(`[${user}] page error: ${e.message}`));
  await page.goto('/login');
  await waitHydrated(page);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname !== '/login');
  await waitLive(page);
}

/** The sign-in form's handlers are attached. The first page load also compiles the app's wasm,
 * which takes a while on a busy machine. */
export async function waitHydrated(page: Page) {
  await expect(page.locator('form[data-hydrated="true"]')).toBeVisible({ timeout: 30_000 });
}

/** Waits until the page is hydrated and its board socket is connected. */
export async function waitLive(page: Page) {
  await expect(page.locator('[data-conn="live"]')).toBeVisible({ timeout: 30_000 });
}

export function row(page: Page, leadId: string) {
  return page.locator(`tr[data-lead="${leadId}"]`);
}

/** The lead IDs on the page shown, in order. */
export async function shownLeads(page: Page): Promise<string[]> {
  return page.locator('tbody tr[data-lead]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-lead')!));
}

/** Claims `leadId` as `user` through the API, from outside any board; `outcome` is expected. */
export async function claimAs(browser: Browser, baseURL: string, user: string, leadId: string, outcome = 'won') {
  const context = await browser.newContext({ baseURL });
  const res = await context.request.post('/api/login', { data: { username: user, password: 'demo1234' } });
  expect(res.status()).toBe(200);
  const claim = await context.request.post('/api/claim', { data: { lead_id: leadId } });
  expect(claim.status()).toBe(200);
  expect((await claim.json()).outcome).toBe(outcome);
  await context.close();
}

/** A small import with one bad row, for the look specs of Leads in and out. */
export const LOOK_CSV = [
  'id,name,company,value,email,phone,tags',
  'IMP01,Northwind renewal,Northwind Traders,12500,anna@northwind.test,+1 555 0101,"renewal, q3"',
  'IMP02,Fabrikam pilot,Fabrikam,4000,not-an-email,,pilot',
  'IMP03,Contoso expansion,Contoso Ltd,30000,li@contoso.test,+44 20 7946 0000,',
].join('\n');

/** Leads in and out has no live board: it is ready once its file input reacts. */
export async function waitHydratedData(page: Page) {
  await expect(page.locator('main.data[data-hydrated="true"]')).toBeVisible({ timeout: 30_000 });
}
