// The viewer suite's setting and fixtures: browser tests of the viewer against a running server and the pipeline's
// real S3 output.
//
//   VIEWER_URL=http://127.0.0.1:3001 IMGASSETS_S3_ENDPOINT_URL=… IMGASSETS_S3_ACCESS_KEY_ID=… \
//   IMGASSETS_S3_SECRET_ACCESS_KEY=… IMGASSETS_CLI=/path/to/.venv/bin/imgassets \
//   IMGASSETS_QUERY_TOKEN=… npm run test:e2e -- --project viewer
//                           (the query endpoint's token; the local stack's: .local/query-token)
//
// Every expectation is read from S3 (summaries, detection records) or counted with SQL over the pipeline's tables
// (`imgassets query`, same IMGASSETS_* environment; the summaries count, the tables list the images): nothing here
// knows what was ingested. Needs at least one hour summary with one image that has detections, and that hour's
// tables. Screenshots go to test-artifacts/.
import { test as base } from "@playwright/test";
import type { Comparison, ImageRow, Summary } from "../../app/lib/records";
import { truthy, withoutTrailingSlash } from "./assert";
import { query } from "./cli";
import { shiftHour } from "./partitions";
import { Bucket } from "./s3";

export { expect } from "@playwright/test";

export const VIEWER_URL = withoutTrailingSlash(process.env.VIEWER_URL ?? "http://127.0.0.1:3001");
export const PAGE_SIZE = 48;
const TIMELINE_HOURS = 168;
const QUERY_URL = withoutTrailingSlash(process.env.IMGASSETS_QUERY_URL || "http://127.0.0.1:3002");
/** The version the stack has backfilled (its detections and comparisons) for at least one hour. */
export const VERSION = "conf03";
/** The hour grid's order: newest processed first. */
export const GRID_ORDER = "ORDER BY processed_at DESC, image_key DESC";

/** GET on the query endpoint, as the viewer's server asks it: with its bearer token (IMGASSETS_QUERY_TOKEN). */
export const queryGet = (path: string): Promise<Response> =>
  fetch(`${QUERY_URL}${path}`, { headers: { Authorization: `Bearer ${process.env.IMGASSETS_QUERY_TOKEN ?? ""}` } });

/** The query endpoint's refusal (400): its message, meant for the user. */
export interface Refusal {
  error: string;
}

/** `text` as a SQL string literal. */
export const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** Rows of `text` over one hour's tables. */
export const hourSql = <Row>(partition: string, text: string): Row[] =>
  query<Row>(["--from", partition, "--to", shiftHour(partition, 1)], text);

/** A number as the pages print it (1,234). */
export const number = (text: string): number => Number(text.replaceAll(",", "").trim());
export const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The summaries the overview shows: the TIMELINE_HOURS hours ending at the newest one, newest first. */
async function recentSummaries(bucket: Bucket): Promise<Summary[]> {
  const keys = await bucket.listKeys("summaries/", /^summaries\/\d{4}\/\d{2}\/\d{2}\/\d{2}\.json$/);
  keys.sort().reverse();
  const hourOf = (key: string) => Date.parse(`${key.slice(10, 20).replaceAll("/", "-")}T${key.slice(21, 23)}:00:00Z`);
  const oldest = keys.length ? hourOf(keys[0]) - (TIMELINE_HOURS - 1) * 3_600_000 : 0;
  return Promise.all(keys.filter((key) => hourOf(key) >= oldest).map((key) => bucket.readJson<Summary>(key)));
}

/** VERSION's comparisons in S3: the newest one and those of the week before it, oldest first. */
export async function recentComparisons(bucket: Bucket): Promise<Comparison[]> {
  const prefix = `versions/${VERSION}/comparisons/`;
  const keys = await bucket.listKeys(prefix, new RegExp(`^${prefix}\\d{4}/\\d{2}/\\d{2}/\\d{2}\\.json$`));
  truthy(
    keys.length > 0,
    `no comparison of ${VERSION} in S3: backfill ${VERSION}/detections and ${VERSION}/comparison from Dagster first`,
  );
  keys.sort();
  // The key's hour: versions/conf03/comparisons/2026/11/25/04.json → 2026-11-25-04:00
  const hourOf = (key: string) => {
    const [year, month, day, hour] = key.slice(prefix.length, -".json".length).split("/");
    return `${year}-${month}-${day}-${hour}:00`;
  };
  const weekBefore = shiftHour(hourOf(keys[keys.length - 1]), -167);
  const comparisons = await Promise.all(
    keys.filter((key) => hourOf(key) >= weekBefore).map((key) => bucket.readJson<Comparison>(key)),
  );
  return comparisons.sort((a, b) => a.partition.localeCompare(b.partition));
}

/** What the pipeline wrote, as every test of the suite expects it. */
export interface Pipeline {
  /** The summaries the overview shows, newest first. */
  summaries: Summary[];
  /** The summaries whose hour has its tables (what the grids list). */
  tabled: Summary[];
  /** The tables' image count of the timeline. */
  tabledImages: number;
  /** Per tabled hour: images without objects, counted in its table. */
  emptyImages: Map<string, number>;
  /** An image of the timeline's tables. */
  sample: Pick<ImageRow, "image_key" | "detection_key">;
}

/** A row of the per-hour count over the timeline's tables. */
interface HourCount {
  partition: string;
  images: number;
  empty: number;
  image_key: string;
}

async function readPipeline(bucket: Bucket): Promise<Pipeline> {
  const summaries = await recentSummaries(bucket);
  truthy(summaries.length > 0, "no hour summary in S3: run the pipeline first");
  // Hours written before the tables existed (or whose tables are not written yet) have a summary but no grid.
  const range = ["--from", summaries[summaries.length - 1].partition, "--to", shiftHour(summaries[0].partition, 1)];
  const hours = query<HourCount>(
    range,
    "SELECT strftime(upload_hour, '%Y-%m-%d-%H:00') AS partition, count(*) AS images, " +
      "count(*) FILTER (WHERE objects = 0) AS empty, max(image_key) AS image_key FROM images GROUP BY 1",
  );
  const perHour = new Map(hours.map((row) => [row.partition, row]));
  const tabled = summaries.filter((summary) => perHour.get(summary.partition)?.images === summary.image_count);
  const tabledImages = hours.reduce((sum, row) => sum + row.images, 0);
  const emptyImages = new Map(hours.map((row) => [row.partition, row.empty]));
  truthy(tabled.length > 0, "no recent hour has its tables: run the pipeline (detection_table) first");
  const [sample] = query<Pipeline["sample"]>(
    range,
    `SELECT image_key, detection_key FROM images WHERE image_key = ${literal(hours[0].image_key)}`,
  );
  return { summaries, tabled, tabledImages, emptyImages, sample };
}

/**
 * The viewer suite's `test`: `bucket`, the pipeline's bucket, and `pipeline`, what it holds, read once per worker
 * before its first test (any test fails when the pipeline has written nothing yet).
 */
export const test = base.extend<object, { bucket: Bucket; pipeline: Pipeline }>({
  bucket: [
    async ({}, use) => {
      const bucket = new Bucket();
      await use(bucket);
      bucket.destroy();
    },
    { scope: "worker" },
  ],
  pipeline: [async ({ bucket }, use) => use(await readPipeline(bucket)), { scope: "worker", auto: true }],
});
