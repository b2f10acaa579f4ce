import { expect, test } from './support/test';
import { signIn, row } from './support/helpers';

test('three employees claim one lead at the same moment: one wins, two are told who beat them, the manager sees it live', async ({ browser }) => {
  const lead = 'L00007';
  const manager = await signIn(browser, 'maria');
  await expect(manager).toHaveURL(/\/manager$/);
  const employees = ['alice', 'bob', 'carol'];
  const pages = await Promise.all(employees.map((u) => signIn(browser, u)));
  for (const page of pages) {
    await expect(row(page, lead).getByRole('button', { name: /^Claim/ })).toBeEnabled();
  }

  // All three click at the same instant: each page schedules its click for one shared moment
  // (the browsers share this machine's clock), so no claim's answer reaches a board before the
  // other clicks. (Playwright's own clicks run one after another, and the live board removes the
  // Claim button from the slower pages before they get to it.)
  const at = Date.now() + 500;
  await Promise.all(
    pages.map((page) =>
      page.evaluate(
        ([id, when]) =>
          new Promise<void>((resolve) =>
            setTimeout(() => {
              document.querySelector<HTMLButtonElement>(`tr[data-lead="${id}"] button.primary`)!.click();
              resolve();
            }, Math.max(0, when - Date.now())),
          ),
        [lead, at] as const,
      ),
    ),
  );

  // Exactly one board shows the lead as "You"; learn who from the manager's board.
  const winnerRow = row(manager, lead);
  await expect(winnerRow).toHaveAttribute('data-assignee', /^(alice|bob|carol)$/);
  const winner = (await winnerRow.getAttribute('data-assignee'))!;
  for (const [i, user] of employees.entries()) {
    const r = row(pages[i], lead);
    await expect(r).toHaveAttribute('data-assignee', winner);
    if (user === winner) {
      await expect(r.locator('.you')).toHaveText('You');
      await expect(r.getByTestId('lost-flag')).toHaveCount(0);
    } else {
      await expect(r.getByTestId('lost-flag')).toContainText(`Lost ${lead} to ${winner}`);
      await expect(pages[i].locator('.toast.bad')).toContainText(winner);
    }
  }

  // The manager's feed shows the win and both conflicts, without a reload.
  const feed = manager.getByTestId('feed');
  await expect(feed.locator('li[data-kind="claimed"]', { hasText: `${winner} claimed ${lead}` })).toHaveCount(1);
  await expect(feed.locator('li[data-kind="claim_lost"]', { hasText: `${lead} to ${winner}` })).toHaveCount(2);
  await expect(manager.locator(`tr[data-employee="${winner}"] td.num`)).toHaveText('1');
});

test('a manager reassigns a held lead: the holder is flagged, the new holder sees it as theirs', async ({ browser }) => {
  const lead = 'L00011';
  const [manager, alice, bob] = await Promise.all([signIn(browser, 'maria'), signIn(browser, 'alice'), signIn(browser, 'bob')]);
  await row(alice, lead).getByRole('button', { name: /^Claim/ }).click();
  await expect(row(alice, lead).locator('.you')).toBeVisible();
  await expect(row(bob, lead)).toHaveAttribute('data-assignee', 'alice');

  const managed = row(manager, lead);
  await expect(managed).toHaveAttribute('data-assignee', 'alice');
  await managed.getByLabel('Reassign to').selectOption('bob');
  await managed.getByRole('button', { name: 'Reassign' }).click();

  await expect(row(bob, lead).locator('.you')).toBeVisible();
  await expect(row(alice, lead).getByTestId('lost-flag')).toContainText('reassigned to bob by maria');
  await expect(manager.getByTestId('feed').locator('li[data-kind="reassigned"]').first()).toContainText(`gave ${lead} to bob`);
});

test('filters work on the local board, and an employee cannot open the manager board', async ({ browser }) => {
  const carol = await signIn(browser, 'carol');
  await carol.getByPlaceholder(/Search/).fill('L00042');
  await expect(carol.locator('tbody tr')).toHaveCount(1);
  await row(carol, 'L00042').getByRole('button', { name: /^Claim/ }).click();
  await expect(row(carol, 'L00042').locator('.you')).toBeVisible();
  await carol.getByPlaceholder(/Search/).fill('');
  await carol.getByLabel('Mine only').check();
  await expect(carol.locator('tbody tr[data-assignee="carol"]')).not.toHaveCount(0);
  await expect(carol.locator('tbody tr:not([data-assignee="carol"])')).toHaveCount(0);

  const res = await carol.goto('/manager');
  expect(res?.status()).toBe(403);
  await expect(carol.getByRole('heading', { name: 'Managers only' })).toBeVisible();
});
