import { test as base, expect } from '@playwright/test';

/**
 * Playwright's `test`, plus: every browser context a test opened (`signIn` opens one per user) is
 * closed when the test ends. Playwright closes only its own `context` fixture; the others would
 * stay open for the rest of the run, each a live board that keeps its socket, its timers and its
 * place under the server's boards-per-user cap.
 */
export const test = base.extend<{ closeContexts: void }>({
  closeContexts: [
    async ({ browser }, use) => {
      await use();
      await Promise.all(browser.contexts().map((context) => context.close()));
    },
    { auto: true },
  ],
});
export { expect };
