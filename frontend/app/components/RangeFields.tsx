import { useState } from "react";
import { type RangePreset, type TimeRange, inputMinute, utcMinute } from "../lib/search";

/**
 * A form's range of upload hours: a preset (`last`) or a custom `from`/`to` (the select's empty value), as the
 * search and compare pages take them. Submits `last`, `from` and `to`; the page's loader makes them canonical.
 */
export function RangeFields({
  legend,
  range,
  shown,
  presets,
  defaultLast,
}: {
  legend: string;
  /** the page's query */
  range: TimeRange;
  /** the range the endpoint answered for, to prefill the custom range */
  shown: { from: string; to: string } | null;
  presets: readonly RangePreset[];
  /** the preset when the query gives no range */
  defaultLast: string;
}) {
  const custom = range.last === null && (range.from !== null || range.to !== null);
  const [last, setLast] = useState(custom ? "" : (range.last ?? defaultLast));
  const options =
    presets.some((preset) => preset.last === last) || last === "" ? presets : [...presets, { last, label: `last ${last}` }];
  const from = custom ? inputMinute(range.from) : shown ? utcMinute(shown.from) : "";
  const to = custom ? inputMinute(range.to) : shown ? utcMinute(shown.to) : "";
  return (
    <fieldset className="range">
      <legend>{legend}</legend>
      <label>
        Range{" "}
        <select name="last" value={last} onChange={(event) => setLast(event.target.value)}>
          {options.map((preset) => (
            <option key={preset.last} value={preset.last}>
              {preset.label}
            </option>
          ))}
          <option value="">custom: from / to</option>
        </select>
      </label>
      {/* Typing a date switches the range to custom; a preset ignores these. */}
      <label>
        from <input type="datetime-local" name="from" defaultValue={from} onChange={() => setLast("")} />
      </label>
      <label>
        to <input type="datetime-local" name="to" defaultValue={to} onChange={() => setLast("")} />
      </label>
      <span className="muted">UTC, whole hours; “to” excluded</span>
    </fieldset>
  );
}
