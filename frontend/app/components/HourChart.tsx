import { classColor } from "../lib/colors";
import type { HourBar } from "../lib/overview";
import { viewerPath } from "../lib/viewer-routes";
import { barPlot, percentLength } from "./barPlot";
import { BarSlot, PlotSvg, hourLabel } from "./PlotParts";

const HEIGHT = 240;
const PAD = { top: 22, bottom: 34 };

/** Objects per class per hour as stacked bars; each bar links to its hour. */
export function HourChart({ hours, labels }: { hours: HourBar[]; labels: string[] }) {
  const plot = barPlot(
    { height: HEIGHT, pad: PAD },
    hours.length,
    Math.max(...hours.map((hour) => hour.objects)),
    8,
  );
  return (
    <figure className="chart">
      <PlotSvg plot={plot} role="img" aria-label="Objects detected per class per hour">
        {hours.map((hour, index) => {
          const x = percentLength(plot.x(index));
          const width = percentLength(plot.barWidth);
          let top = plot.y(0);
          const detail = Object.entries(hour.counts)
            .map(([label, count]) => `${label} ${count}`)
            .join(", ");
          return (
            <BarSlot
              key={hour.partition}
              plot={plot}
              index={index}
              to={viewerPath("hour", { partition: hour.partition })}
              title={
                hour.summarized
                  ? `${hour.partition}: ${hour.images} images, ${hour.objects} objects${detail ? ` (${detail})` : ""}`
                  : `${hour.partition}: no summary`
              }
              label={hourLabel(hour.partition)}
              value={hours.length <= 48 && hour.objects > 0 ? hour.objects : undefined}
              data-partition={hour.partition}
              data-objects={hour.objects}
            >
              {labels
                .filter((label) => hour.counts[label])
                .map((label) => {
                  const height = (hour.counts[label] / plot.max) * plot.plotHeight;
                  top -= height;
                  return <rect key={label} x={x} y={top} width={width} height={height} fill={classColor(label)} />;
                })}
            </BarSlot>
          );
        })}
      </PlotSvg>
      <figcaption className="legend">
        {labels.map((label) => (
          <span key={label}>
            <i style={{ background: classColor(label) }} /> {label}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
