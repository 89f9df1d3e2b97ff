// The journeys suite's setting and fixture: the README's journeys in a real browser, with the values the user gave.
// imgassets_tests/test_journeys.py runs it after `imgassets ingest --source …` of a folder and a video, with
//
//   VIEWER_URL, DAGSTER_URL, IMGASSETS_CLI and the stack's IMGASSETS_* variables;
//   JOURNEY_SOURCE        the source name the user typed for the folder
//   JOURNEY_IMAGES        JSON: each of the folder's image keys → its class counts (as the images table says)
//   JOURNEY_CLASS         a class the user searches for
//   JOURNEY_VIDEO_SOURCE  the source name the user typed for the video
//   JOURNEY_VERSION       the detector version the user backfilled (`imgassets versions backfill NAME`)
//   JOURNEY_ADDED         JSON: the version the user added (`imgassets versions add NAME --onnx FILE`, then
//                         backfilled): {name, model (the file's name), layout}
//   JOURNEY_TRACKS        optional, JSON: the truth of a synthetic clip the test ingested and tracked,
//                         {source, unique: {class: distinct objects}, crossings: {line: {in, out}}, zones: [names],
//                         visits: {zone: visits},
//                         lines: [names]}; without it the source page's journey is skipped
//   SCREENSHOTS_DIR       where the README's screenshots go (docs/screenshots)
import { mkdirSync } from "node:fs";
import { test as base, type Page } from "@playwright/test";
import type { LineCount } from "../../app/lib/records";
import { screenshot as save } from "./artifacts";
import { requireEnv, truthy, withoutTrailingSlash } from "./assert";
import { query } from "./cli";

export { expect } from "@playwright/test";

/** The version the user added with `versions add`. */
export interface AddedVersion {
  name: string;
  /** The ONNX file's name. */
  model: string;
  layout: string;
}

/** The truth of the tracked clip (JOURNEY_TRACKS). */
export interface TrackedClip {
  source: string;
  /** Per class, the distinct objects. */
  unique: Record<string, number>;
  /** Per line, its crossings each way. */
  crossings: Record<string, LineCount>;
  zones: string[];
  /** Per zone, its visits. */
  visits: Record<string, number>;
  lines: string[];
}

/** JOURNEY_TRACKS, read when the suite loads: without it, the tracked camera's journey is skipped. */
export const TRACKS: TrackedClip | null = process.env.JOURNEY_TRACKS
  ? (JSON.parse(process.env.JOURNEY_TRACKS) as TrackedClip)
  : null;

export const PHONE = { width: 390, height: 844 };

/** The journey's values, from the environment. */
export interface Journey {
  viewerUrl: string;
  dagsterUrl: string;
  source: string;
  /** Each of the folder's image keys → its class counts. */
  images: Record<string, Record<string, number>>;
  /** The class the user searches for. */
  className: string;
  videoSource: string;
  version: string;
  added: AddedVersion;
  screenshots: string;
  /** The folder's image keys, sorted, and those with the class. */
  keys: string[];
  withClass: string[];
}

function readJourney(): Journey {
  const viewerUrl = withoutTrailingSlash(requireEnv("VIEWER_URL"));
  const dagsterUrl = withoutTrailingSlash(requireEnv("DAGSTER_URL"));
  const source = requireEnv("JOURNEY_SOURCE");
  const images = JSON.parse(requireEnv("JOURNEY_IMAGES")) as Journey["images"];
  const className = requireEnv("JOURNEY_CLASS");
  const videoSource = requireEnv("JOURNEY_VIDEO_SOURCE");
  const version = requireEnv("JOURNEY_VERSION");
  const added = JSON.parse(requireEnv("JOURNEY_ADDED")) as AddedVersion;
  const screenshots = requireEnv("SCREENSHOTS_DIR");
  const keys = Object.keys(images).sort();
  const withClass = keys.filter((key) => (images[key][className] ?? 0) >= 1);
  mkdirSync(screenshots, { recursive: true });
  truthy(
    keys.length > 0 && withClass.length > 0,
    `the journey's images must include one with a ${className}`,
  );
  return { viewerUrl, dagsterUrl, source, images, className, videoSource, version, added, screenshots, keys, withClass };
}

/** The journeys' `test`: `journey`, the journey's values, read once per worker before its first test. */
export const test = base.extend<object, { journey: Journey }>({
  journey: [async ({}, use) => use(readJourney()), { scope: "worker", auto: true }],
});

/** Rows of `text` over the last day's tables, as `imgassets query` gives them. */
export const sql = <Row>(text: string): Row[] => query<Row>(["--last", "1d"], text, requireEnv("IMGASSETS_CLI"));

/** Saves one of the README's screenshots (SCREENSHOTS_DIR). */
export const screenshot = (page: Page, journey: Journey, name: string, fullPage = false): Promise<void> =>
  save(page, name, { dir: journey.screenshots, fullPage });

/** The page's width beyond the viewport (0 when nothing scrolls sideways). */
export const overflow = (page: Page): Promise<number> =>
  page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

/** The `data` of a GraphQL request to Dagster's webserver (what its UI asks). */
export async function graphql<Data>(journey: Journey, text: string, variables: Record<string, unknown>): Promise<Data> {
  const response = await fetch(`${journey.dagsterUrl}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query: text, variables }),
  });
  const body = (await response.json()) as { data: Data; errors?: unknown };
  truthy(!body.errors, JSON.stringify(body.errors));
  return body.data;
}

/** Calls `read` every second until `done` accepts its value or `timeoutMs` passes; returns the last value. */
export async function poll<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    value = await read();
  }
  return value;
}
