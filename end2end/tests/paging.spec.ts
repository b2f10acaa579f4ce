import { expect, test } from './support/test';
import { signIn, shownLeads } from './support/helpers';

test('the pager reaches every lead: Next to the last page and back, disabled at both ends', async ({ browser }) => {
  const page = await signIn(browser, 'alice');
  const total = Number((await page.getByTestId('count').textContent())!.split(' of ')[1]);
  expect(total).toBeGreaterThan(50);
  const pages = Math.ceil(total / 50);
  const previous = page.getByTestId('previous-page');
  const next = page.getByTestId('next-page');
  const status = page.getByTestId('page-status');

  await expect(previous).toBeDisabled();
  const seen: string[] = [];
  for (let p = 1; p <= pages; p++) {
    await expect(status).toContainText(`Page ${p} of ${pages}`);
    const ids = await shownLeads(page);
    expect(ids.length).toBe(p < pages ? 50 : total - 50 * (pages - 1));
    seen.push(...ids);
    if (p < pages) await next.click();
  }
  await expect(next).toBeDisabled();
  // Every lead exactly once, and the last lead (IDs sort as the board does) on the last page.
  expect(new Set(seen).size).toBe(total);
  const last = [...seen].sort().at(-1)!;
  expect(await shownLeads(page)).toContain(last);

  await previous.click();
  await expect(status).toContainText(`Page ${pages - 1} of ${pages}`);
  await expect(next).toBeEnabled();
  for (let p = pages - 1; p > 1; p--) await previous.click();
  await expect(status).toContainText(`Page 1 of ${pages}`);
  await expect(previous).toBeDisabled();
  expect((await shownLeads(page))[0]).toBe([...seen].sort()[0]);

  // A filter starts again at page 1.
  await next.click();
  await page.getByLabel('Status').selectOption('open');
  await expect(status).toContainText('Page 1 of');
});
