import { expect, test } from './support/test';
import { signIn } from './support/helpers';

test('"Next lead" pressed in two browsers at once gives two different leads, each told which and why', async ({
  browser,
}) => {
  const alice = await signIn(browser, 'alice');
  const bob = await signIn(browser, 'bob');
  const next = (page: typeof alice) => page.getByRole('button', { name: 'Next lead' });
  const answers = [alice, bob].map((page) => page.waitForResponse((r) => r.url().endsWith('/api/next')));
  await Promise.all([next(alice).click(), next(bob).click()]);
  const [a, b] = await Promise.all(answers.map(async (r) => (await r).json()));
  expect([a.outcome, b.outcome]).toEqual(['won', 'won']);
  expect(a.lead.id).not.toBe(b.lead.id);
  for (const [page, reply, user] of [
    [alice, a, 'alice'],
    [bob, b, 'bob'],
  ] as const) {
    await expect(page.locator('.toast').filter({ hasText: `You got ${reply.lead.id}` })).toContainText(reply.reason);
    // Both boards show both claims.
    for (const other of [alice, bob]) {
      await expect(other.locator(`tr[data-lead="${reply.lead.id}"]`)).toHaveAttribute('data-assignee', user);
    }
  }
  // The key does the same.
  const third = alice.waitForResponse((r) => r.url().endsWith('/api/next'));
  await alice.locator('main').click({ position: { x: 5, y: 5 } });
  await alice.keyboard.press('n');
  expect((await (await third).json()).outcome).toBe('won');
});
