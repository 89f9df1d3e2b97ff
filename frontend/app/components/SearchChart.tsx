import { Link } from "react-router";
import type { Bucket, ChartBar } from "../lib/search";
import { barPlot } from "./barPlot";

const WIDTH = 960;
const HEIGHT = 200;
const PAD = { top: 22, right: 12, bottom: 30, left: 44 };

function barLabel(bar: ChartBar, bucket: Bucket): string {
  // 2026-11-25T04:00 → 11-25 (day) or 11-25 04h (hour)
  return bucket === "day" ? bar.start.slice(5, 10) : `${bar.start.slice(5, 10)} ${bar.start.slice(11, 13)}h`;
}

function barTitle(bar: ChartBar, bucket: Bucket): string {
  const when = bucket === "day" ? bar.start.slice(0, 10) : `${bar.start.replace("T", " ")} UTC`;
  return `${when}: ${bar.matches} matching image${bar.matches === 1 ? "" : "s"}`;
}

/**
 * Matching images per hour or per day (the endpoint's bucket) as bars; each bar links to the same search narrowed
 * to its hour or day (`link` gives that URL).
 */
export function SearchChart({
  bars,
  bucket,
  link,
}: {
  bars: ChartBar[];
  bucket: Bucket;
  link: (bar: ChartBar) => string;
}) {
  const { max, plotHeight, slot, barWidth, y, labelEvery } = barPlot(
    { width: WIDTH, height: HEIGHT, pad: PAD },
    bars.length,
    Math.max(...bars.map((bar) => bar.matches)),
    10,
  );
  // Whole numbers only: 0, half, max (fewer when they coincide).
  const ticks = [...new Set([0, Math.round(max / 2), max])];
  return (
    <figure className="chart search-chart" data-bucket-size={bucket}>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} aria-labelledby="search-chart-caption">
        {ticks.map((tick) => (
          <g key={tick} className="gridline" aria-hidden="true">
            <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(tick)} y2={y(tick)} />
            <text x={PAD.left - 6} y={y(tick) + 4} textAnchor="end">
              {tick}
            </text>
          </g>
        ))}
        {bars.map((bar, index) => {
          const x = PAD.left + index * slot + (slot - barWidth) / 2;
          const title = barTitle(bar, bucket);
          return (
            <Link
              key={bar.start}
              to={link(bar)}
              className="bar"
              data-bucket={bar.start}
              data-matches={bar.matches}
              aria-label={title}
            >
              <title>{title}</title>
              <rect x={x} y={PAD.top} width={barWidth} height={plotHeight} className="bar-hit" />
              <rect x={x} y={y(bar.matches)} width={barWidth} height={y(0) - y(bar.matches)} className="bar-fill" />
              {bars.length <= 40 && bar.matches > 0 && (
                <text x={x + barWidth / 2} y={y(bar.matches) - 4} textAnchor="middle" className="value">
                  {bar.matches}
                </text>
              )}
              {index % labelEvery === 0 && (
                <text x={x + barWidth / 2} y={HEIGHT - PAD.bottom + 16} textAnchor="middle" className="axis">
                  {barLabel(bar, bucket)}
                </text>
              )}
            </Link>
          );
        })}
      </svg>
      <figcaption id="search-chart-caption" className="legend">
        Matching images per {bucket} (UTC); a bar narrows the search to its {bucket}.
      </figcaption>
    </figure>
  );
}
