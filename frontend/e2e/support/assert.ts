// Assertions the browser tests share beyond Playwright's `expect`.
import { expect } from "@playwright/test";

/** Fails with `message` unless `value` is truthy, and tells TypeScript so (`expect` does not narrow). */
export function truthy(value: unknown, message?: string): asserts value {
  expect(value, message).toBeTruthy();
}

/** The environment variable `name`; fails the test or hook that asks for it when it is unset or empty. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  truthy(value, `${name} must be set`);
  return value;
}

/** A URL without its trailing slashes, so that paths can be appended. */
export const withoutTrailingSlash = (url: string): string => url.replace(/\/+$/, "");
