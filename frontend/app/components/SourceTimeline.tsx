import { classColor } from "../lib/colors";
import { type TimelineHour, plural } from "../lib/sources";
import { barPlot, percentLength } from "./barPlot";
import { BarSlot, PairedBars, PlotSvg, hourLabel } from "./PlotParts";

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
  const plot = barPlot({ height: HEIGHT, pad: PAD }, hours.length, Math.max(...hours.map((hour) => hour.objects)), 8);
  return (
    <figure className="chart source-chart" data-testid="objects-chart" data-hours={hours.length}>
      <PlotSvg plot={plot} aria-labelledby="source-objects-caption">
        {hours.map((hour, index) => {
          const x = percentLength(plot.x(index));
          const width = percentLength(plot.barWidth);
          let top = plot.y(0);
          const title = objectsTitle(hour);
          return (
            <BarSlot
              key={hour.partition}
              plot={plot}
              index={index}
              to={link(hour)}
              title={title}
              aria-label={title}
              label={hourLabel(hour.partition)}
              value={hours.length <= 48 && hour.objects > 0 ? hour.objects : undefined}
              data-partition={hour.partition}
              data-objects={hour.objects}
            >
              {labels
                .filter((label) => hour.unique[label])
                .map((label) => {
                  const height = (hour.unique[label] / plot.max) * plot.plotHeight;
                  top -= height;
                  return (
                    <rect
                      key={label}
                      x={x}
                      y={top}
                      width={width}
                      height={height}
                      fill={classColor(label)}
                      data-label={label}
                      data-value={hour.unique[label]}
                    />
                  );
                })}
            </BarSlot>
          );
        })}
      </PlotSvg>
      <figcaption id="source-objects-caption" className="legend">
        {labels.map((label) => (
          <span key={label}>
            <i style={{ background: classColor(label) }} /> {label}
          </span>
        ))}
        <span className="muted">distinct objects (tracks) per hour (UTC); a bar opens its hour</span>
      </figcaption>
    </figure>
  );
}

/** Line crossings per hour, "in" beside "out" (every line together; each bar's title has them line by line). */
function CrossingsChart({ hours, link }: { hours: TimelineHour[]; link: (hour: TimelineHour) => string }) {
  const plot = barPlot(
    { height: HEIGHT, pad: PAD },
    hours.length,
    Math.max(...hours.map((hour) => Math.max(hour.in, hour.out))),
    8,
  );
  return (
    <figure className="chart source-chart" data-testid="crossings-chart" data-hours={hours.length}>
      <PlotSvg plot={plot} aria-labelledby="source-crossings-caption">
        {hours.map((hour, index) => {
          const title = crossingsTitle(hour);
          return (
            <BarSlot
              key={hour.partition}
              plot={plot}
              index={index}
              to={link(hour)}
              title={title}
              aria-label={title}
              label={hourLabel(hour.partition)}
              data-partition={hour.partition}
              data-in={hour.in}
              data-out={hour.out}
            >
              <PairedBars plot={plot} index={index} values={[["in", hour.in], ["out", hour.out]]} />
            </BarSlot>
          );
        })}
      </PlotSvg>
      <figcaption id="source-crossings-caption" className="legend">
        <span>
          <i className="series-in" /> in
        </span>
        <span>
          <i className="series-out" /> out
        </span>
        <span className="muted">line crossings per hour (UTC), every line together; a pair of bars opens its hour</span>
      </figcaption>
    </figure>
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
