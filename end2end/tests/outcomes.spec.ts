import { expect, test } from './support/test';
import { row, signIn } from './support/helpers';

test.describe('outcomes', () => {
  test('the holder records contacted, then won, on the lead page: every board and the manager see it live', async ({
    browser,
  }) => {
    const manager = await signIn(browser, 'maria');
    const id = `O${Date.now() % 1_000_000_000}`;
    const add = await manager.request.post('/api/leads/add', { data: { id, name: 'Quinn Ortega', company: 'Orbit', value: 900 } });
    expect(add.status()).toBe(200);
    const report = async () => (await (await manager.request.post('/api/outcomes', { data: { days: 7 } })).json()).people;
    const wonBefore = ((await report()).find((p: { user: string }) => p.user === 'alice')?.counts ?? [0, 0, 0, 0, 0])[3];

    const alice = await signIn(browser, 'alice');
    const bob = await signIn(browser, 'bob');
    // Going from the board to the lead's page must leave nothing of the board running.
    const errors: string[] = [];
    alice.on('pageerror', (e) => errors.push(e.message));
    for (const page of [alice, bob]) await page.getByPlaceholder(/Search/).fill(id);
    await row(alice, id).getByRole('button', { name: 'Claim' }).click();
    await expect(row(bob, id)).toHaveAttribute('data-assignee', 'alice');

    // The row's Outcome leads to the lead's page, where the holder says what happened.
    await row(alice, id).getByRole('link', { name: 'Outcome' }).click();
    await expect(alice).toHaveURL(new RegExp(`/leads/${id}$`));
    await expect(alice.locator('[data-conn="live"]')).toBeVisible({ timeout: 30_000 });
    await expect(alice.getByRole('heading', { name: 'Quinn Ortega' })).toBeVisible();
    await expect(alice.getByTestId('standing')).toHaveText(/^Yours/);
    const form = alice.locator('form.outcome-form');
    await form.getByRole('button', { name: 'Record outcome' }).click();
    await expect(form.getByRole('alert')).toHaveText('Choose what happened');
    await form.getByLabel('Contacted').check();
    await form.getByLabel('Note (optional)').fill('Left a voicemail');
    await form.getByRole('button', { name: 'Record outcome' }).click();
    await expect(alice.getByTestId('standing')).toHaveText('Yours: contacted');
    const history = alice.getByTestId('history');
    await expect(history.locator('li[data-kind="outcome"]')).toContainText('Left a voicemail');
    await expect(history.locator('li').first()).toContainText('Added by maria');
    await expect(history.locator('li[data-kind="claimed"]')).toContainText('alice claimed it');
    await expect(row(bob, id).locator('[data-outcome="contacted"]')).toBeVisible();

    // Won closes it: the form goes, bob's board shows it closed with nothing to claim.
    await form.getByLabel('Won').check();
    await form.getByRole('button', { name: 'Record outcome' }).click();
    await expect(alice.getByTestId('standing')).toHaveText('Closed: won by alice');
    await expect(form).toHaveCount(0);
    await expect(history.locator('li[data-kind="outcome"]')).toHaveCount(2);
    await expect(row(bob, id).locator('[data-outcome="won"]')).toBeVisible();
    await expect(row(bob, id).getByRole('button')).toHaveCount(0);

    // The manager's outcomes show alice's win (fetched again when the outcome reached the board).
    await manager.goto('/manager');
    await expect(manager.locator('[data-conn="live"]')).toBeVisible({ timeout: 30_000 });
    const won = manager.locator('[data-testid="outcomes"] tr[data-employee="alice"] td').nth(3);
    await expect(won).toHaveText(String(wonBefore + 1));
    expect(errors).toEqual([]);
  });
});
