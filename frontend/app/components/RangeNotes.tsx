/**
 * What the pages that query a range of hours (search, compare, source) say of the query endpoint's answer, above
 * their results: the same wording, classes and roles on every one of them.
 */
import { readableMinute } from "../lib/search";

/** The endpoint's refusal of the page's query (400: its message says what is wrong); nothing without one. */
export function QueryRefusal({ error, ...attributes }: { error: string | null; "data-testid"?: string }) {
  if (error === null) return null;
  return (
    <p className="search-error" role="alert" data-status={400} {...attributes}>
      {error}
    </p>
  );
}

/** How many hours the answer has (`what`: "compared", "with tracks"), between its range's ends. */
export function HoursInRange({
  count,
  what,
  from,
  to,
  ...attributes
}: {
  count: number;
  what: string;
  from: string;
  to: string;
  "data-page"?: number;
}) {
  return (
    <p className="result-total" data-hours={count} {...attributes}>
      <b>{count.toLocaleString("en-US")}</b> hour{count === 1 ? "" : "s"} {what}
      <span className="muted">
        {" "}
        between {readableMinute(from)} and {readableMinute(to)} UTC
      </span>
    </p>
  );
}

/**
 * The hours whose stored `document` could not be read and are left out of the answer, and the `asset` whose
 * partitions to materialize again; nothing when every hour was read.
 */
export function UnreadableHours({
  hours,
  document,
  asset,
  ...attributes
}: {
  hours: readonly string[];
  document: string;
  asset: string;
  "data-testid": string;
}) {
  if (hours.length === 0) return null;
  return (
    <p className="search-error" role="alert" {...attributes}>
      {hours.length} hour{hours.length === 1 ? "" : "s"}&apos; {document} could not be read and{" "}
      {hours.length === 1 ? "is" : "are"} left out: {hours.join(", ")}. Materialize their {asset} partitions again.
    </p>
  );
}
