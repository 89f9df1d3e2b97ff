import { defineConfig } from "vitest/config";

// Unit tests only (pure helpers and loaders); the browser tests live in e2e/ and run with `node --test`.
export default defineConfig({
  test: {
    include: ["app/**/*.test.ts"],
    environment: "node",
  },
});
