import { Link } from "react-router";
import { classColor } from "../lib/colors";
import type { HourBar } from "../lib/overview";
import { viewerPath } from "../lib/viewer-routes";
import { barPlot } from "./barPlot";

const WIDTH = 960;
const HEIGHT = 240;
const PAD = { top: 22, right: 12, bottom: 34, left: 44 };

function hourLabel(partition: string): string {
  // 2026-11-25-04:00 → 11-25 04h
  return `${partition.slice(5, 10)} ${partition.slice(11, 13)}h`;
}

/** Objects per class per hour as stacked bars; each bar links to its hour. */
export function HourChart({ hours, labels }: { hours: HourBar[]; labels: string[] }) {
  const { max, plotHeight, slot, barWidth, y, labelEvery } = barPlot(
    { width: WIDTH, height: HEIGHT, pad: PAD },
    hours.length,
    Math.max(...hours.map((hour) => hour.objects)),
    8,
  );
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label="Objects detected per class per hour">
        {[0, 0.5, 1].map((fraction) => (
          <g key={fraction} className="gridline">
            <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(max * fraction)} y2={y(max * fraction)} />
            <text x={PAD.left - 6} y={y(max * fraction) + 4} textAnchor="end">
              {Math.round(max * fraction)}
            </text>
          </g>
        ))}
        {hours.map((hour, index) => {
          const x = PAD.left + index * slot + (slot - barWidth) / 2;
          let top = y(0);
          const detail = Object.entries(hour.counts)
            .map(([label, count]) => `${label} ${count}`)
            .join(", ");
          return (
            <Link
              key={hour.partition}
              to={viewerPath("hour", { partition: hour.partition })}
              className="bar"
              data-partition={hour.partition}
              data-objects={hour.objects}
            >
              <title>
                {hour.summarized
                  ? `${hour.partition}: ${hour.images} images, ${hour.objects} objects${detail ? ` (${detail})` : ""}`
                  : `${hour.partition}: no summary`}
              </title>
              <rect x={x} y={PAD.top} width={barWidth} height={plotHeight} className="bar-hit" />
              {labels
                .filter((label) => hour.counts[label])
                .map((label) => {
                  const height = (hour.counts[label] / max) * plotHeight;
                  top -= height;
                  return <rect key={label} x={x} y={top} width={barWidth} height={height} fill={classColor(label)} />;
                })}
              {hours.length <= 48 && hour.objects > 0 && (
                <text x={x + barWidth / 2} y={top - 4} textAnchor="middle" className="value">
                  {hour.objects}
                </text>
              )}
              {index % labelEvery === 0 && (
                <text x={x + barWidth / 2} y={HEIGHT - PAD.bottom + 16} textAnchor="middle" className="axis">
                  {hourLabel(hour.partition)}
                </text>
              )}
            </Link>
          );
        })}
      </svg>
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
