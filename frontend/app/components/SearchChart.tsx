import type { Bucket, ChartBar } from "../lib/search";
import { barPlot, percentLength } from "./barPlot";
import { BarSlot, PlotSvg, hourLabel } from "./PlotParts";

const HEIGHT = 200;
const PAD = { top: 22, bottom: 30 };

function barLabel(bar: ChartBar, bucket: Bucket): string {
  // 2026-11-25T04:00 → 11-25 (day) or 11-25 04h (hour)
  return bucket === "day" ? bar.start.slice(5, 10) : hourLabel(bar.start);
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
  const plot = barPlot(
    { height: HEIGHT, pad: PAD },
    bars.length,
    Math.max(...bars.map((bar) => bar.matches)),
    10,
  );
  return (
    <figure className="chart search-chart" data-bucket-size={bucket}>
      <PlotSvg plot={plot} aria-labelledby="search-chart-caption">
        {bars.map((bar, index) => {
          const title = barTitle(bar, bucket);
          return (
            <BarSlot
              key={bar.start}
              plot={plot}
              index={index}
              to={link(bar)}
              title={title}
              label={barLabel(bar, bucket)}
              value={bars.length <= 40 && bar.matches > 0 ? bar.matches : undefined}
              data-bucket={bar.start}
              data-matches={bar.matches}
              aria-label={title}
            >
              <rect
                x={percentLength(plot.x(index))}
                y={plot.y(bar.matches)}
                width={percentLength(plot.barWidth)}
                height={plot.y(0) - plot.y(bar.matches)}
                className="bar-fill"
              />
            </BarSlot>
          );
        })}
      </PlotSvg>
      <figcaption id="search-chart-caption" className="legend">
        Matching images per {bucket} (UTC); a bar narrows the search to its {bucket}.
      </figcaption>
    </figure>
  );
}
