import { defineConfig } from "vitest/config";

// Unit tests only (pure helpers and loaders); the browser tests live in e2e/ and run with Playwright
// (playwright.config.ts).
export default defineConfig({
  test: {
    include: ["app/**/*.test.ts"],
    environment: "node",
  },
});
