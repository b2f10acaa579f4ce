import { Browser, Page } from '@playwright/test';
import { expect, test } from './support/test';
import { claimAs, row, signIn } from './support/helpers';
import { Proxy } from './support/proxy';
import { OwnServer } from './support/server';

/** Marks the page, so the test can tell that it was never reloaded. */
async function mark(page: Page) {
  await page.evaluate(() => ((window as unknown as { e2eMark: number }).e2eMark = 1));
}
async function expectNotReloaded(page: Page) {
  expect(await page.evaluate(() => (window as unknown as { e2eMark?: number }).e2eMark)).toBe(1);
}

async function expectReconnecting(page: Page) {
  await expect(page.locator('[data-conn]')).toHaveText('Reconnecting…');
  await expect(page.getByTestId('reconnect-notice')).toBeVisible();
}

/** A board through `proxy`, searched down to `lead`, which must be open. */
async function boardFor(browser: Browser, proxy: Proxy, lead: string): Promise<Page> {
  const page = await signIn(browser, 'alice', { baseURL: proxy.url });
  await page.getByPlaceholder(/Search/).fill(lead);
  await expect(row(page, lead)).toHaveAttribute('data-assignee', '');
  await mark(page);
  return page;
}

test('a link that goes dead: the badge says Reconnecting…, and claims made meanwhile show up after it returns', async ({ browser, baseURL }) => {
  const lead = 'L00131';
  const proxy = await Proxy.start(Number(new URL(baseURL!).port));
  try {
    const page = await boardFor(browser, proxy, lead);
    proxy.cut();
    await expectReconnecting(page);

    // Bob claims while alice's board cannot hear anything.
    await claimAs(browser, baseURL!, 'bob', lead);
    await expectReconnecting(page);
    await expect(row(page, lead)).toHaveAttribute('data-assignee', '');

    proxy.restore();
    await expect(page.locator('[data-conn]')).toHaveText('Live', { timeout: 20_000 });
    await expect(row(page, lead)).toHaveAttribute('data-assignee', 'bob');
    await expect(page.getByTestId('reconnect-notice')).toHaveCount(0);
    await expectNotReloaded(page);
  } finally {
    await proxy.close();
  }
});

test('a server restart: boards reconnect by themselves and catch up on claims made while they were away', async ({ browser }) => {
  const lead = 'L00132';
  const server = await OwnServer.start();
  const proxy = await Proxy.start(server.port);
  try {
    const page = await boardFor(browser, proxy, lead);
    // The board keeps its socket; new connections wait, so the claim below lands while the board
    // is away, whatever its backoff.
    proxy.hold();
    await server.stop();
    await expectReconnecting(page);
    await server.restart();
    await claimAs(browser, server.url, 'bob', lead);
    await expectReconnecting(page);
    await expect(row(page, lead)).toHaveAttribute('data-assignee', '');

    proxy.restore();
    await expect(page.locator('[data-conn]')).toHaveText('Live', { timeout: 20_000 });
    await expect(row(page, lead)).toHaveAttribute('data-assignee', 'bob');
    await expectNotReloaded(page);
    // And the link is live again, not only caught up: a new claim arrives as it happens.
    await page.getByPlaceholder(/Search/).fill('L00133');
    await expect(row(page, 'L00133')).toHaveAttribute('data-assignee', '');
    await claimAs(browser, server.url, 'carol', 'L00133');
    await expect(row(page, 'L00133')).toHaveAttribute('data-assignee', 'carol');
  } finally {
    await proxy.close();
    await server.close();
  }
});
