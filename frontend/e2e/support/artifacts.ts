// Where the browser tests' screenshots go. Playwright's own output (traces, attachments) goes to
// test-artifacts/playwright/ (playwright.config.ts), which it empties at each run; the screenshots stay beside it.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "@playwright/test";

/** frontend/test-artifacts/ */
export const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/", import.meta.url));

/** Saves a screenshot of `page` as `name` in `dir` (frontend/test-artifacts/ unless given). */
export async function screenshot(
  page: Page,
  name: string,
  { dir = ARTIFACTS, fullPage = false }: { dir?: string; fullPage?: boolean } = {},
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, name), fullPage });
}
