import { expect, test } from './support/test';
import { row, signIn } from './support/helpers';
import { OwnServer } from './support/server';

// Short terms so that a lease runs out within the test: 6 s leases, the reminder (and Extend) in
// the last 3 s, two leads per person.
test.describe('leases and caps @embedded', () => {
  let server: OwnServer;
  test.beforeAll(async () => {
    server = await OwnServer.start({
      sqlite: true,
      env: {
        LEADBOARD_CLAIMS_LEASE_MINUTES: '0.1',
        LEADBOARD_CLAIMS_REMIND_MINUTES: '0.05',
        LEADBOARD_CLAIMS_MAX_HELD: '2',
        LEADBOARD_CLAIMS_EXPIRY_EVERY_SECS: '0.5',
      },
    });
  });
  test.afterAll(async () => server.close());

  test('a lease running out flips every board and tells the former holder', async ({ browser }) => {
    const alice = await signIn(browser, 'alice', { baseURL: server.url });
    const bob = await signIn(browser, 'bob', { baseURL: server.url });
    const lead = 'L00004';
    await row(alice, lead).locator('[data-action="claim"]').click();
    await expect(row(alice, lead).getByTestId('lease')).toHaveText(/\d s left/);
    await expect(row(bob, lead)).toHaveAttribute('data-assignee', 'alice');
    await expect(row(bob, lead).getByTestId('lease')).toHaveText(/s left|expiring/);
    // The reminder: the holder, and only she, may extend.
    await expect(row(alice, lead).locator('[data-action="extend"]')).toBeVisible({ timeout: 10_000 });
    await expect(row(alice, lead).getByTestId('lease')).toHaveClass(/lease-soon/);
    await expect(row(bob, lead).locator('[data-action="extend"]')).toHaveCount(0);
    await expect(row(bob, lead)).toHaveAttribute('data-assignee', '', { timeout: 15_000 });
    await expect(row(bob, lead).locator('[data-action="claim"]')).toBeVisible();
    await expect(row(alice, lead)).toHaveAttribute('data-assignee', '');
    await expect(row(alice, lead).getByTestId('lost-flag')).toContainText(`Your claim on ${lead} expired`);
    await expect(row(alice, lead).getByTestId('lease')).toHaveCount(0);
  });

  test('Extend starts a fresh lease', async ({ browser }) => {
    const alice = await signIn(browser, 'alice', { baseURL: server.url });
    const lead = 'L00005';
    await row(alice, lead).locator('[data-action="claim"]').click();
    const extend = row(alice, lead).locator('[data-action="extend"]');
    await expect(extend).toBeVisible({ timeout: 10_000 });
    const version = Number(await row(alice, lead).getAttribute('data-version'));
    await extend.click();
    await expect(row(alice, lead)).toHaveAttribute('data-version', String(version + 1));
    await expect(row(alice, lead).getByTestId('lease')).not.toHaveClass(/lease-soon/);
    await expect(extend).toHaveCount(0);
    await expect(row(alice, lead)).toHaveAttribute('data-assignee', 'alice');
  });

  test('a claim past the cap is refused with the cap named', async ({ browser }) => {
    const bob = await signIn(browser, 'bob', { baseURL: server.url });
    for (const lead of ['L00010', 'L00011']) {
      await row(bob, lead).locator('[data-action="claim"]').click();
      await expect(row(bob, lead)).toHaveAttribute('data-assignee', 'bob');
    }
    await row(bob, 'L00012').locator('[data-action="claim"]').click();
    await expect(bob.getByText('you already hold 2 of 2')).toBeVisible();
    await expect(row(bob, 'L00012')).toHaveAttribute('data-assignee', '');
  });
});
