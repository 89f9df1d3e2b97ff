// The viewer's browser tests (e2e/), one project per suite; imgassets_tests/ runs one suite at a time:
//   npx playwright test --config playwright.config.ts --project viewer      (also: npm run test:e2e -- --project …)
//
//   viewer    a running viewer (VIEWER_URL) against the pipeline's real S3 output and tables
//             (imgassets_tests/test_e2e.py)
//   journeys  the README's journeys with the values the user gave, and Dagster's UI (imgassets_tests/test_journeys.py)
//   security  who gets in: starts its own viewers (the production build) and query endpoint, no S3
//             (imgassets_tests/test_viewer_security.py)
//   deploy    the viewer as the container deployment serves it (imgassets_tests/test_containers.py)
//
// Each suite's variables are described at the top of its support module or spec. The browser is the system's
// Chromium (CHROMIUM_PATH, else /usr/bin/chromium): Playwright's own browsers are never downloaded.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-artifacts/playwright",
  // One browser at a time, each file's tests in order: the machine is small, and the suites share a live stack.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  reporter: "list",
  // Per test (and per beforeAll hook or worker fixture): SQL over S3, full-page screenshots and Dagster's UI are slow
  // on two cores. Python gives a whole suite 600 s.
  timeout: 300_000,
  use: {
    browserName: "chromium",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
    // Playwright's library defaults, which the tests were written against (the runner's own default is no limit).
    actionTimeout: 30_000,
    navigationTimeout: 30_000,
    trace: "off",
    screenshot: "off",
    video: "off",
  },
  projects: [
    { name: "viewer", testDir: "e2e/viewer", use: { viewport: { width: 1280, height: 900 } } },
    { name: "journeys", testDir: "e2e/journeys", use: { viewport: { width: 1280, height: 860 } } },
    { name: "security", testDir: "e2e/security", use: { viewport: { width: 1280, height: 900 } } },
    { name: "deploy", testDir: "e2e/deploy" },
  ],
});
