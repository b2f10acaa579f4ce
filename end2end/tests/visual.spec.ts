import { Page } from '@playwright/test';
import path from 'node:path';
import { LOOK_CSV, claimAs, row, signIn, signInOn, waitHydrated, waitHydratedData } from './support/helpers';
import { Proxy } from './support/proxy';
import { DESKTOP, PHONE, expect, settle, test } from './support/look';

// Baselines live in __screenshots__/ and change only on purpose:
//   npx playwright test --grep @look --update-snapshots
// With README_SHOTS=<dir> (scripts/screenshots), the README's pictures are written there too.
const README_SHOTS = process.env.README_SHOTS;

/** What changes from run to run: clock times, claim margins and deadlines. */
function masks(page: Page) {
  return [
    page.locator('.feed time'),
    page.locator('.lost-detail'),
    page.locator('.history time'),
    page.locator('.history .muted'),
    page.locator('.details dd:last-of-type'),
  ];
}

/** Routes the page's board socket through the test, which can hold the server's messages back. */
async function holdable(page: Page) {
  let held: (string | Buffer)[] | null = null;
  let toPage: ((m: string | Buffer) => void) | null = null;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    toPage = (m) => ws.send(m);
    server.onMessage((m) => (held ? held.push(m) : ws.send(m)));
  });
  return {
    hold: () => (held = []),
    release: () => {
      const queue = held ?? [];
      held = null;
      for (const m of queue) toPage?.(m);
    },
  };
}

async function shot(page: Page, name: string, readme = false) {
  await expect(page).toHaveScreenshot(`${name}.png`, { mask: masks(page) });
  if (README_SHOTS && readme) {
    // Unmasked: a reader should see a real margin, not a placeholder.
    await page.screenshot({ path: path.join(README_SHOTS, `${name}.png`), animations: 'disabled', caret: 'hide' });
  }
}

for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
  test.describe(`@look ${size}`, () => {
    test(`sign-in (${size})`, async ({ browser, fresh }) => {
      const page = await (await browser.newContext({ baseURL: fresh.url, viewport })).newPage();
      await page.goto('/login');
      await waitHydrated(page);
      await page.evaluate(() => document.fonts.ready.then(() => undefined));
      await shot(page, `sign-in-${size}`);
    });

    test(`board and help (${size})`, async ({ browser, fresh }) => {
      const page = await signIn(browser, 'carol', { baseURL: fresh.url, viewport });
      await settle(page);
      await shot(page, `board-${size}`, true);
      await page.keyboard.press('?');
      await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeVisible();
      await shot(page, `help-${size}`);
    });

    test(`lost-claim flag and toast (${size})`, async ({ browser, fresh }) => {
      const lead = 'L00002';
      const alice = await (await browser.newContext({ baseURL: fresh.url, viewport })).newPage();
      // Alice's board hears nothing while bob claims, so she still sees the lead open and loses
      // it to him: the same race as two clicks at once, with a known winner.
      const link = await holdable(alice);
      await signInOn(alice, 'alice');
      const bob = await signIn(browser, 'bob', { baseURL: fresh.url, viewport });
      await settle(alice);
      link.hold();
      await row(bob, lead).getByRole('button', { name: /^Claim/ }).click();
      await expect(row(bob, lead)).toHaveAttribute('data-assignee', 'bob');
      await row(alice, lead).getByRole('button', { name: /^Claim/ }).click();
      await expect(row(alice, lead).getByTestId('lost-flag')).toContainText(`Lost ${lead} to bob`);
      await expect(alice.locator('.toast.bad')).toContainText(`Lost ${lead} to bob`);
      link.release();
      await expect(row(alice, lead)).toHaveAttribute('data-assignee', 'bob');
      await alice.mouse.move(0, 0);
      await shot(alice, `lost-claim-${size}`, true);
    });

    test(`manager's live board (${size})`, async ({ browser, fresh }) => {
      // A morning's first claims, one of them contested, so the board has something to show.
      for (const [user, lead, outcome] of [
        ['bob', 'L00001', 'won'],
        ['carol', 'L00003', 'won'],
        ['alice', 'L00001', 'lost'],
        ['bob', 'L00004', 'won'],
      ]) {
        await claimAs(browser, fresh.url, user, lead, outcome);
      }
      const page = await signIn(browser, 'maria', { baseURL: fresh.url, viewport });
      await settle(page);
      await shot(page, `manager-${size}`, true);
    });

    test(`a lead's page with its history (${size})`, async ({ browser, fresh }) => {
      await claimAs(browser, fresh.url, 'alice', 'L00001');
      await claimAs(browser, fresh.url, 'bob', 'L00001', 'lost');
      const page = await signIn(browser, 'alice', { baseURL: fresh.url, viewport });
      const lead = await (await page.request.post('/api/leads/history', { data: { lead_id: 'L00001' } })).json();
      const note = 'Left a voicemail; call back Monday 10:00';
      const recorded = await page.request.post('/api/outcome', {
        data: { lead_id: 'L00001', version: lead.lead.version, outcome: 'contacted', note },
      });
      expect(recorded.status()).toBe(200);
      await page.goto('/leads/L00001');
      await settle(page);
      await expect(page.getByTestId('history').locator('li[data-kind="outcome"]')).toContainText(note);
      await shot(page, `lead-${size}`, true);
    });

    test(`leads in and out, after an import (${size})`, async ({ browser, fresh }) => {
      const page = await signIn(browser, 'maria', { baseURL: fresh.url, viewport });
      await page.goto('/manager/data');
      await waitHydratedData(page);
      await page.getByTestId('csv-file').setInputFiles({ name: 'leads.csv', mimeType: 'text/csv', buffer: Buffer.from(LOOK_CSV) });
      await expect(page.getByTestId('start-import')).toBeVisible();
      await page.evaluate(() => document.fonts.ready.then(() => undefined));
      await shot(page, `import-preview-${size}`, true);
      await page.getByTestId('start-import').click();
      await expect(page.getByTestId('import-report')).toBeVisible();
      await page.locator('.toast button').click();
      await page.mouse.move(0, 0);
      // The report from its top, just under the sticky header.
      await page.getByTestId('import-report').evaluate((e) => window.scrollTo(0, e.getBoundingClientRect().top + window.scrollY - 72));
      await shot(page, `import-report-${size}`, true);
    });

    test(`reconnecting (${size})`, async ({ browser, fresh }) => {
      const proxy = await Proxy.start(fresh.port);
      try {
        const page = await signIn(browser, 'alice', { baseURL: proxy.url, viewport });
        await settle(page);
        proxy.cut();
        await expect(page.locator('[data-conn]')).toHaveText('Reconnecting…');
        await shot(page, `reconnecting-${size}`);
      } finally {
        await proxy.close();
      }
    });
  });
}
