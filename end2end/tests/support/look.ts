import { Page } from '@playwright/test';
import { test as base, expect } from './test';
import { OwnServer } from './server';

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/**
 * Servers of the look specs' own: fresh SQLite stores with only the demo data, so what they see
 * does not depend on which other specs ran before. `look` is shared by the specs that only look;
 * `fresh` is one test's own, for tests that change the board.
 */
export const test = base.extend<{ fresh: OwnServer }, { look: OwnServer }>({
  fresh: async ({}, use) => {
    const server = await OwnServer.start({ sqlite: true });
    await use(server);
    await server.close();
  },
  look: [
    async ({}, use) => {
      const server = await OwnServer.start({ sqlite: true });
      await use(server);
      await server.close();
    },
    { scope: 'worker' },
  ],
});
export { expect };

/** Waits for what changes pixels after load: the web font, and the live link. */
export async function settle(page: Page) {
  await page.evaluate(() => document.fonts.ready.then(() => undefined));
  await expect(page.locator('[data-conn="live"]')).toBeVisible({ timeout: 30_000 });
}
