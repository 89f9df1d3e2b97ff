/**
 * The S3 key layout, as far as the viewer needs it.
 *
 * This mirrors imgassets/core/layout.py (`_IMAGE_KEY`, `parse_image_key`, `summary_key`, `partition_of_summary_key`),
 * the reference: both are tested against the same vectors, contract/layout-vectors.json (layout.test.ts here,
 * imgassets_tests/test_layout.py there); a case either side gets wrong belongs in that file. Every key the server
 * reads is derived here from a validated image key or partition, so a request can never name an object outside
 * the pipeline's layout (no traversal, no foreign prefix or bucket).
 */

export const SUMMARIES = "summaries/";
const NAME_MAX = 96;
const KEY_MAX = 256;

// Same pattern as imgassets/core/layout.py `_IMAGE_KEY`, matched whole and ASCII-only like there (in JavaScript without
// the m and u flags, \d is [0-9] and $ is the end of the input, never before a trailing newline).
const IMAGE_KEY = new RegExp(
  String.raw`^images/(?<hour>\d{4}/\d{2}/\d{2}/\d{2})/(?<file>(?<sha12>[0-9a-f]{12})-(?<name>[A-Za-z0-9][A-Za-z0-9._-]{0,${NAME_MAX - 1}}))$`,
);
const PARTITION = /^(\d{4})-(\d{2})-(\d{2})-(\d{2}):00$/;
const SUMMARY_KEY = /^summaries\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\.json$/;

export class InvalidKey extends Error {
  override name = "InvalidKey";
}

export interface ImageKey {
  key: string;
  /** YYYY/MM/DD/HH */
  hourPath: string;
  /** <sha12>-<name> */
  file: string;
  partition: string;
  detectionKey: string;
  rejectionKey: string;
  thumbnailKey: string;
}

/** The UTC hour, without Date.UTC's mapping of years 0–99 to 1900–1999 (layout.py accepts years 1–9999). */
function utcHour(year: string, month: string, day: string, hour: string): Date {
  const date = new Date(0);
  date.setUTCFullYear(+year, +month - 1, +day);
  date.setUTCHours(+hour, 0, 0, 0);
  return date;
}

function isRealHour(year: string, month: string, day: string, hour: string): boolean {
  const date = utcHour(year, month, day, hour);
  return (
    +year >= 1 &&
    date.getUTCFullYear() === +year &&
    date.getUTCMonth() === +month - 1 &&
    date.getUTCDate() === +day &&
    date.getUTCHours() === +hour
  );
}

/** Validates that `key` is an image key of this pipeline, like layout.parse_image_key. */
export function parseImageKey(key: string): ImageKey {
  if (typeof key !== "string" || key.length > KEY_MAX) {
    throw new InvalidKey(`image key must be a string of at most ${KEY_MAX} characters`);
  }
  const match = IMAGE_KEY.exec(key);
  if (match?.groups === undefined || key.includes("..") || key.includes("//")) {
    throw new InvalidKey("not an image key of this pipeline");
  }
  const { hour: hourPath, file } = match.groups;
  const [year, month, day, hour] = hourPath.split("/");
  if (!isRealHour(year, month, day, hour)) {
    throw new InvalidKey("image key has an impossible hour");
  }
  return {
    key,
    hourPath,
    file,
    partition: `${year}-${month}-${day}-${hour}:00`,
    detectionKey: `detections/${hourPath}/${file}.json`,
    rejectionKey: `rejections/${hourPath}/${file}.json`,
    thumbnailKey: `thumbnails/${hourPath}/${file}.jpg`,
  };
}

/** `YYYY-MM-DD-HH:00` (Dagster's hourly partition key, UTC) → its hour as a Date; throws InvalidKey. */
export function parsePartition(partition: string): Date {
  const match = PARTITION.exec(partition);
  if (match === null || !isRealHour(match[1], match[2], match[3], match[4])) {
    throw new InvalidKey("not an hourly partition key (YYYY-MM-DD-HH:00)");
  }
  return utcHour(match[1], match[2], match[3], match[4]);
}

/** Dagster's partition key of the UTC hour containing `hour`, year zero-padded like layout.partition_key. */
export function partitionKey(hour: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(hour.getUTCFullYear(), 4)}-${pad(hour.getUTCMonth() + 1)}-${pad(hour.getUTCDate())}-${pad(hour.getUTCHours())}:00`;
}

export function summaryKey(partition: string): string {
  parsePartition(partition);
  const [year, month, day, hourMinute] = partition.split("-");
  return `${SUMMARIES}${year}/${month}/${day}/${hourMinute.slice(0, 2)}.json`;
}

/** Inverse of `summaryKey`; null for any other key found under summaries/. */
export function partitionOfSummaryKey(key: string): string | null {
  const match = SUMMARY_KEY.exec(key);
  if (match === null || !isRealHour(match[1], match[2], match[3], match[4])) {
    return null;
  }
  return `${match[1]}-${match[2]}-${match[3]}-${match[4]}:00`;
}

/** The hour `hours` after (or before, if negative) a partition. */
export function shiftPartition(partition: string, hours: number): string {
  return partitionKey(new Date(parsePartition(partition).getTime() + hours * 3_600_000));
}
