import { defineConfig } from '@playwright/test';

// Runs against a server that scripts/test starts (BASE_URL), in Debian's Chromium: Playwright's
// own browser download is never used. Specs tagged @look (layout, accessibility, visual
// baselines) start a SQLite server of their own, so they do not depend on the store under test,
// and so do specs tagged @embedded (the leases and caps spec: caps are kept only by the embedded store
// so far, and the lease screens do not depend on the store); E2E_LOOK=0 leaves both out (scripts/test
// runs them once, with the embedded store).
export default defineConfig({
  testDir: './tests',
  // Runs side by side (scripts/test) each need their own: a run empties its output dir at start.
  outputDir: process.env.E2E_OUTPUT_DIR ?? 'test-results',
  timeout: 60_000,
  expect: {
    timeout: 10_000,
    toHaveScreenshot: { maxDiffPixelRatio: 0.002, animations: 'disabled', caret: 'hide', scale: 'css' },
  },
  snapshotPathTemplate: '{testDir}/__screenshots__/{testFilePath}/{arg}{ext}',
  grepInvert: process.env.E2E_LOOK === '0' ? /@look|@embedded/ : undefined,
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: 'list',
  use: {
    baseURL: process.env.BASE_URL ?? 'http://127.0.0.1:3000',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // The same pixels on every run: no LCD subpixel colours, no font hinting differences.
        '--disable-lcd-text',
        '--font-render-hinting=none',
      ],
    },
  },
});
