import type { ReactNode } from "react";
import { type TimelineHour, plural } from "../lib/sources";
import { type BarPlot, barPlot } from "./barPlot";
import { ClassKeys, type HourSlot, HourSlots, PairedBars, PlotSvg, StackedBars } from "./PlotParts";

const HEIGHT = 200;
const PAD = { top: 22, bottom: 30 };

function objectsTitle(hour: TimelineHour): string {
  if (!hour.tracked) return `${hour.partition} UTC: no tracks`;
  const detail = Object.entries(hour.unique)
    .map(([label, count]) => `${label} ${count}`)
    .join(", ");
  return (
    `${hour.partition} UTC: ${plural(hour.objects, "distinct object")}${detail ? ` (${detail})` : ""} ` +
    `in ${plural(hour.frames, "frame")}`
  );
}

function crossingsTitle(hour: TimelineHour): string {
  if (!hour.tracked) return `${hour.partition} UTC: no tracks`;
  const detail = Object.entries(hour.crossings)
    .map(([line, count]) => `${line} ${count.in} in · ${count.out} out`)
    .join(", ");
  return `${hour.partition} UTC: ${hour.in} in, ${hour.out} out${detail ? ` (${detail})` : ""}`;
}

/**
 * One of a source's charts over its hours (`{name}-chart`, its legend `source-{name}-caption`): a slot per hour,
 * named by its title (for screen readers too) and opening the source page of its hour; `slot` gives a slot's bars
 * and the rest of its attributes.
 */
function TimelineChart({
  name,
  hours,
  max,
  link,
  title,
  slot,
  children,
}: {
  name: "objects" | "crossings";
  hours: TimelineHour[];
  /** the highest bar's value */
  max: number;
  link: (hour: TimelineHour) => string;
  title: (hour: TimelineHour) => string;
  slot: (hour: TimelineHour, index: number, plot: BarPlot) => Omit<HourSlot, "to" | "title">;
  /** the legend */
  children: ReactNode;
}) {
  const plot = barPlot({ height: HEIGHT, pad: PAD }, hours.length, max, 8);
  return (
    <figure className="chart source-chart" data-testid={`${name}-chart`} data-hours={hours.length}>
      <PlotSvg plot={plot} aria-labelledby={`source-${name}-caption`}>
        <HourSlots
          plot={plot}
          hours={hours}
          slot={(hour, index) => {
            const text = title(hour);
            return { to: link(hour), title: text, "aria-label": text, ...slot(hour, index, plot) };
          }}
        />
      </PlotSvg>
      <figcaption id={`source-${name}-caption`} className="legend">
        {children}
      </figcaption>
    </figure>
  );
}

/** Distinct objects per class per hour as stacked bars; each slot opens the source page of its hour. */
function ObjectsChart({
  hours,
  labels,
  link,
}: {
  hours: TimelineHour[];
  labels: string[];
  link: (hour: TimelineHour) => string;
}) {
  return (
    <TimelineChart
      name="objects"
      hours={hours}
      max={Math.max(...hours.map((hour) => hour.objects))}
      link={link}
      title={objectsTitle}
      slot={(hour, index, plot) => ({
        value: hours.length <= 48 && hour.objects > 0 ? hour.objects : undefined,
        "data-objects": hour.objects,
        children: <StackedBars plot={plot} index={index} labels={labels} counts={hour.unique} marked />,
      })}
    >
      <ClassKeys labels={labels} />
      <span className="muted">distinct objects (tracks) per hour (UTC); a bar opens its hour</span>
    </TimelineChart>
  );
}

/** Line crossings per hour, "in" beside "out" (every line together; each bar's title has them line by line). */
function CrossingsChart({ hours, link }: { hours: TimelineHour[]; link: (hour: TimelineHour) => string }) {
  return (
    <TimelineChart
      name="crossings"
      hours={hours}
      max={Math.max(...hours.map((hour) => Math.max(hour.in, hour.out)))}
      link={link}
      title={crossingsTitle}
      slot={(hour, index, plot) => ({
        "data-in": hour.in,
        "data-out": hour.out,
        children: <PairedBars plot={plot} index={index} values={[["in", hour.in], ["out", hour.out]]} />,
      })}
    >
      <span>
        <i className="series-in" /> in
      </span>
      <span>
        <i className="series-out" /> out
      </span>
      <span className="muted">line crossings per hour (UTC), every line together; a pair of bars opens its hour</span>
    </TimelineChart>
  );
}

/** The hours with tracks as a table: what the charts show, readable without them. */
function HoursTable({ hours, labels, lines }: { hours: TimelineHour[]; labels: string[]; lines: string[] }) {
  const tracked = hours.filter((hour) => hour.tracked);
  return (
    <details className="hours-table">
      <summary>The same counts as a table ({plural(tracked.length, "hour")} with tracks)</summary>
      <div className="table-scroll">
        <table data-testid="source-hours">
          <caption className="muted">Distinct objects per class and line crossings per hour (UTC)</caption>
          <thead>
            <tr>
              <th>Hour (UTC)</th>
              <th>Frames</th>
              {labels.map((label) => (
                <th key={label}>{label}</th>
              ))}
              {lines.flatMap((line) => [
                <th key={`${line}-in`}>{line} in</th>,
                <th key={`${line}-out`}>{line} out</th>,
              ])}
            </tr>
          </thead>
          <tbody>
            {tracked.map((hour) => (
              <tr key={hour.partition} data-partition={hour.partition}>
                <td>{hour.partition}</td>
                <td>{hour.frames}</td>
                {labels.map((label) => (
                  <td key={label}>{hour.unique[label] ?? 0}</td>
                ))}
                {lines.flatMap((line) => [
                  <td key={`${line}-in`}>{hour.crossings[line]?.in ?? 0}</td>,
                  <td key={`${line}-out`}>{hour.crossings[line]?.out ?? 0}</td>,
                ])}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

/**
 * A source's timeline: distinct objects per class per hour, line crossings in and out per hour (when it has
 * lines), and both as a table. `labels` are the classes (in the legend's order), `lines` the counting lines.
 */
export function SourceTimeline({
  hours,
  labels,
  lines,
  link,
}: {
  hours: TimelineHour[];
  labels: string[];
  lines: string[];
  /** the page of one hour */
  link: (hour: TimelineHour) => string;
}) {
  return (
    <>
      <h3>Distinct objects</h3>
      <ObjectsChart hours={hours} labels={labels} link={link} />
      {lines.length > 0 && (
        <>
          <h3>Line crossings</h3>
          <CrossingsChart hours={hours} link={link} />
        </>
      )}
      <HoursTable hours={hours} labels={labels} lines={lines} />
    </>
  );
}
