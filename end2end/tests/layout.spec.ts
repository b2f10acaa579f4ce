import { Browser, Page } from '@playwright/test';
import { LOOK_CSV, signIn, waitHydrated, waitHydratedData, waitLive } from './support/helpers';
import { expect, test } from './support/look';

const WIDTHS = [360, 390, 768, 1280, 1920];

/** The regions of each page that must never overlap one another. */
const REGIONS: Record<string, string[]> = {
  login: ['.login-card'],
  board: ['.topbar', '.page-head', '.leads-card'],
  manager: ['.topbar', '.page-head', '.totals', '.manager-main', '.side > section', '.outcomes-card', '.accounts-card'],
  data: ['.topbar', '.page-head', '.data-card'],
  lead: ['.topbar', '.lead-summary', '.outcome-form', '.history-card'],
};

type Box = { x: number; y: number; width: number; height: number };

/** Boxes in page coordinates (independent of scrolling), for every element matching `selector`. */
async function boxes(page: Page, selector: string): Promise<Box[]> {
  return page.locator(selector).evaluateAll((els) =>
    els.map((e) => {
      const r = e.getBoundingClientRect();
      return { x: r.x + window.scrollX, y: r.y + window.scrollY, width: r.width, height: r.height };
    }),
  );
}

function overlap(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

async function checkLayout(page: Page, name: string, width: number) {
  await page.setViewportSize({ width, height: 900 });
  await page.evaluate(() => window.scrollTo(0, 0));
  const where = `${name} at ${width} px`;

  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, `${where}: the page scrolls sideways`).toBeLessThanOrEqual(0);

  const regions: { sel: string; box: Box }[] = [];
  for (const sel of REGIONS[name]) {
    const found = await boxes(page, sel);
    expect(found.length, `${where}: ${sel} is missing`).toBeGreaterThan(0);
    for (const box of found) {
      expect(box.x, `${where}: ${sel} starts left of the page`).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width, `${where}: ${sel} ends past the right edge`).toBeLessThanOrEqual(width + 0.5);
      regions.push({ sel, box });
    }
  }
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const area = overlap(regions[i].box, regions[j].box);
      expect(area, `${where}: ${regions[i].sel} overlaps ${regions[j].sel}`).toBeLessThan(1);
    }
  }

  // Every action button lies wholly inside its row and inside the viewport's width.
  const misplaced = await page.evaluate((vw) => {
    const bad: string[] = [];
    for (const row of document.querySelectorAll('tbody tr')) {
      const r = row.getBoundingClientRect();
      for (const b of row.querySelectorAll('button, select')) {
        const x = b.getBoundingClientRect();
        if (x.width === 0) continue;
        const inside = x.left >= r.left - 0.5 && x.right <= r.right + 0.5 && x.top >= r.top - 0.5 && x.bottom <= r.bottom + 0.5;
        if (!inside || x.left < 0 || x.right > vw + 0.5) bad.push(`${row.getAttribute('data-lead') ?? row.getAttribute('data-account')}: ${b.textContent}`);
      }
    }
    return bad;
  }, width);
  expect(misplaced, `${where}: buttons outside their row or the viewport`).toEqual([]);
}

async function pages(browser: Browser, baseURL: string): Promise<[string, Page][]> {
  const login = await (await browser.newContext({ baseURL })).newPage();
  await login.goto('/login');
  await waitHydrated(login);
  const board = await signIn(browser, 'alice', { baseURL });
  const manager = await signIn(browser, 'maria', { baseURL });
  // Leads in and out with a file chosen: the preview's wide table is its widest state.
  const data = await signIn(browser, 'maria', { baseURL });
  await data.goto('/manager/data');
  await waitHydratedData(data);
  await data.getByTestId('csv-file').setInputFiles({ name: 'leads.csv', mimeType: 'text/csv', buffer: Buffer.from(LOOK_CSV) });
  await expect(data.getByTestId('start-import')).toBeVisible();
  // A lead's page with its outcome form and a history.
  const lead = await signIn(browser, 'alice', { baseURL });
  const claim = await lead.request.post('/api/claim', { data: { lead_id: 'L00003' } });
  expect((await claim.json()).outcome).toBe('won');
  await lead.goto('/leads/L00003');
  await waitLive(lead);
  return [['login', login], ['board', board], ['manager', manager], ['data', data], ['lead', lead]];
}

test('@look every page fits 360 to 1920 px: no sideways scroll, no overlapping regions, buttons inside their rows', async ({ browser, look }) => {
  // Every page at five widths.
  test.slow();
  for (const [name, page] of await pages(browser, look.url)) {
    for (const width of WIDTHS) await checkLayout(page, name, width);
  }
});
