import { expect, test } from './support/test';
import { readFileSync } from 'node:fs';
import { row, signIn, waitHydratedData, waitLive } from './support/helpers';
import { OwnServer } from './support/server';

// A server of this spec's own (in the store under test): the import adds leads, which the
// shared server's other specs do not expect.
let server: OwnServer;
test.beforeAll(async () => {
  server = await OwnServer.start();
});
test.afterAll(async () => {
  await server?.close();
});

const FILE = [
  'Lead ID;Deal name;Organisation;Value;E-mail;Phone',
  'IMP1;Imported one;Acme;1200;one@example.com;+1 555 0100',
  'IMP2;Bad email;Beta;5;not-an-email;',
  'IMP3;Imported three;"Gamma; Ltd";7;three@example.com;',
].join('\r\n');

test('a manager imports a CSV with a bad row, sees why, and the good leads appear live on a board; export gives what the filter shows', async ({ browser }) => {
  const alice = await signIn(browser, 'alice', { baseURL: server.url });
  const maria = await signIn(browser, 'maria', { baseURL: server.url });
  await maria.getByRole('link', { name: 'Import leads' }).click();
  await waitHydratedData(maria);

  await maria.getByTestId('csv-file').setInputFiles({ name: 'leads.csv', mimeType: 'text/csv', buffer: Buffer.from(FILE) });
  // The mapping is guessed from the header, and can be changed.
  await expect(maria.getByTestId('map-0')).toHaveValue('id');
  await expect(maria.getByTestId('map-1')).toHaveValue('name');
  await expect(maria.getByTestId('map-2')).toHaveValue('company');
  await expect(maria.getByTestId('map-4')).toHaveValue('email');
  await expect(maria.locator('.preview-table tbody tr')).toHaveCount(3);
  await expect(maria.locator('.preview-table')).toContainText('Gamma; Ltd');

  await maria.getByTestId('start-import').click();
  const report = maria.getByTestId('import-report');
  await expect(report).toBeVisible();
  await expect(maria.getByTestId('added')).toHaveText('2');
  await expect(maria.getByTestId('refused')).toHaveText('1');
  const refused = maria.getByTestId('refused-rows');
  await expect(refused.locator('tbody tr')).toHaveCount(1);
  await expect(refused).toContainText('3');
  await expect(refused).toContainText('email must be an address like name@example.com, not "not-an-email"');
  await expect(maria.getByTestId('download-refused')).toHaveAttribute('href', /^blob:/);
  const download = maria.waitForEvent('download');
  await maria.getByTestId('download-refused').click();
  const refusedFile = readFileSync(await (await download).path(), 'utf8');
  expect(refusedFile).toContain('row,error,Lead ID');
  expect(refusedFile).toContain('IMP2');

  // Alice's board got them without a reload.
  await expect(row(alice, 'IMP1')).toBeVisible();
  await expect(row(alice, 'IMP3')).toBeVisible();
  await expect(row(alice, 'IMP2')).toHaveCount(0);
  await alice.getByPlaceholder(/Search/).fill('three@example');
  await expect(alice.locator('tbody tr[data-lead]')).toHaveCount(1);

  // Importing the same file again adds nothing.
  await maria.getByTestId('start-import').click();
  await expect(maria.getByTestId('skipped')).toHaveText('2');
  await expect(maria.getByTestId('added')).toHaveText('0');

  // The live board exports what its filter shows.
  await maria.goto('/manager');
  await waitLive(maria);
  await maria.getByPlaceholder(/Search/).fill('Imported');
  await expect(maria.locator('tbody tr[data-lead]')).toHaveCount(2);
  const exported = maria.waitForEvent('download');
  await maria.getByTestId('export-leads').click();
  const csv = readFileSync(await (await exported).path(), 'utf8').trim().split('\n');
  expect(csv[0]).toBe('id,name,company,value,status,assignee,contact,email,phone,source,tags,created_at,claimed_at,updated_at,outcome');
  expect(csv.slice(1).map((l) => l.split(',')[0])).toEqual(['IMP1', 'IMP3']);
  expect(csv[1]).toContain(",'+1 555 0100,");
});
