import { expect, test } from './support/test';
import { row, signIn, waitLive } from './support/helpers';

test('who else has a lead open shows on its row and its page, and goes when they leave', async ({ browser }) => {
  const alice = await signIn(browser, 'alice');
  const bob = await signIn(browser, 'bob');
  const lead = 'L00005';
  await expect(row(bob, lead).getByTestId('viewing')).toHaveCount(0);

  // Alice opens the lead's page: bob's board names her on the lead's row, nobody else's.
  await alice.goto(`/leads/${lead}`);
  await waitLive(alice);
  await expect(row(bob, lead).getByTestId('viewing')).toHaveText('alice is viewing');
  await expect(row(bob, 'L00006').getByTestId('viewing')).toHaveCount(0);
  await expect(alice.getByTestId('viewing')).toHaveCount(0);

  // Bob opens it too: her page names him.
  const bobsPage = await bob.context().newPage();
  await bobsPage.goto(`/leads/${lead}`);
  await waitLive(bobsPage);
  await expect(alice.getByTestId('viewing')).toHaveText('bob is viewing');
  await expect(bobsPage.getByTestId('viewing')).toHaveText('alice is viewing');

  // Alice closes her page: within seconds nobody names her (nor bob, on his own board).
  await alice.close();
  await expect(bobsPage.getByTestId('viewing')).toHaveCount(0, { timeout: 5_000 });
  await expect(row(bob, lead).getByTestId('viewing')).toHaveCount(0, { timeout: 5_000 });
});
