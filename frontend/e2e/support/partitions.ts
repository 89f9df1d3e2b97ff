// Hour partitions (2026-11-25-04:00) and the S3 keys derived from them (imgassets/layout.py).

/** The hour partition key `hours` after `partition`. */
export function shiftHour(partition: string, hours: number): string {
  const time = Date.parse(`${partition.slice(0, 10)}T${partition.slice(11, 13)}:00:00Z`) + hours * 3_600_000;
  const iso = new Date(time).toISOString();
  return `${iso.slice(0, 10)}-${iso.slice(11, 13)}:00`;
}

/** The summary's key of an hour partition (2026-11-25-04:00 → summaries/2026/11/25/04.json). */
export const summaryKeyOf = (partition: string): string =>
  `summaries/${partition.slice(0, 10).replaceAll("-", "/")}/${partition.slice(11, 13)}.json`;

/** The hour partition of an image key (images/YYYY/MM/DD/HH/… → YYYY-MM-DD-HH:00). */
export function partitionOfImageKey(key: string): string {
  const [, y, m, d, h] = key.split("/");
  return `${y}-${m}-${d}-${h}:00`;
}
