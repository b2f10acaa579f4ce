import AxeBuilder from '@axe-core/playwright';
import { Page } from '@playwright/test';
import { LOOK_CSV, signIn, waitHydrated, waitHydratedData, waitLive } from './support/helpers';
import { DESKTOP, PHONE, expect, test } from './support/look';

/** Fails on any serious or critical WCAG 2.x A/AA or best-practice violation. */
async function expectAccessible(page: Page, what: string) {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'])
    .analyze();
  const serious = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.slice(0, 5).map((n) => n.target.join(' ')).join('\n  ')}`);
  expect(serious, `${what}: accessibility violations`).toEqual([]);
}

for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
  test(`@look no serious accessibility violations on any page (${size})`, async ({ browser, look }) => {
    // Every page, each checked by axe: about 50 s alone, more beside the Appwrite run.
    test.slow();
    const visitor = await (await browser.newContext({ baseURL: look.url, viewport })).newPage();
    await visitor.goto('/login');
    await waitHydrated(visitor);
    await expectAccessible(visitor, 'sign-in');
    await visitor.getByLabel('Username').fill('alice');
    await visitor.getByLabel('Password').fill('wrong password');
    await visitor.getByRole('button', { name: 'Sign in' }).click();
    await expect(visitor.getByRole('alert')).not.toBeEmpty();
    await expectAccessible(visitor, 'sign-in with an error');
    await visitor.goto('/no-such-page');
    await expectAccessible(visitor, 'not found');

    const board = await signIn(browser, 'alice', { baseURL: look.url, viewport });
    await expectAccessible(board, 'board');
    if (size === 'desktop') {
      await board.keyboard.press('?');
      await expect(board.getByRole('dialog')).toBeVisible();
      await expectAccessible(board, 'help dialog');
      await board.keyboard.press('Escape');
    }
    await board.getByPlaceholder(/Search/).fill('no lead is called this');
    await expectAccessible(board, 'board with nothing found');
    // The two sizes share a server: each claims a lead of its own.
    await board.goto(size === 'desktop' ? '/leads/L00005' : '/leads/L00006');
    await waitLive(board);
    await expectAccessible(board, "a lead's page");
    await board.getByRole('button', { name: 'Claim' }).click();
    await expect(board.locator('form.outcome-form')).toBeVisible();
    await expectAccessible(board, "a lead's page with the outcome form");
    await board.goto('/manager');
    await expectAccessible(board, 'managers only (403)');

    await board.goto('/manager/data');
    await expectAccessible(board, 'leads in and out, managers only (403)');

    const manager = await signIn(browser, 'maria', { baseURL: look.url, viewport });
    await expectAccessible(manager, 'manager board');
    await manager.goto('/account');
    await waitHydrated(manager);
    await expectAccessible(manager, 'account');
    await manager.goto('/manager/data');
    await expect(manager.getByRole('heading', { name: 'Leads in and out' })).toBeVisible();
    await waitHydratedData(manager);
    await expectAccessible(manager, 'leads in and out');
    await manager.getByTestId('csv-file').setInputFiles({ name: 'a.csv', mimeType: 'text/csv', buffer: Buffer.from(LOOK_CSV) });
    await expect(manager.getByTestId('start-import')).toBeVisible();
    await expectAccessible(manager, 'import preview');
    await manager.getByTestId('token-name').fill('Website form');
    await manager.getByRole('button', { name: 'Create token' }).click();
    await expect(manager.getByTestId('new-token')).toBeVisible();
    await expectAccessible(manager, 'a new token');
  });
}
