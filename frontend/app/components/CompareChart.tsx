import { percent } from "../lib/compare";
import type { CompareHour } from "../lib/records";
import { viewerPath } from "../lib/viewer-routes";
import { barPlot } from "./barPlot";
import { HourSlots, PairedBars, PlotSvg } from "./PlotParts";

const HEIGHT = 220;
const PAD = { top: 22, bottom: 30 };

function hourTitle(hour: CompareHour, versionA: string, versionB: string): string {
  return (
    `${hour.partition} UTC: ${hour.images} image${hour.images === 1 ? "" : "s"} compared; ` +
    `${versionA} ${hour.objects_a} objects, ${versionB} ${hour.objects_b}, ${hour.matched} matched ` +
    `(precision ${percent(hour.precision)}, recall ${percent(hour.recall)}); ` +
    `${hour.disagreements} image${hour.disagreements === 1 ? "" : "s"} disagree`
  );
}

/**
 * Both versions' timelines: objects per compared hour, A's bar beside B's (one slot per hour with a comparison,
 * oldest first); each slot links to its hour page.
 */
export function CompareChart({
  hours,
  versionA,
  versionB,
}: {
  hours: CompareHour[];
  versionA: string;
  versionB: string;
}) {
  const plot = barPlot(
    { height: HEIGHT, pad: PAD },
    hours.length,
    Math.max(...hours.map((hour) => Math.max(hour.objects_a, hour.objects_b))),
    10,
  );
  return (
    <figure className="chart compare-chart" data-hours={hours.length}>
      <PlotSvg plot={plot} aria-labelledby="compare-chart-caption">
        <HourSlots
          plot={plot}
          hours={hours}
          slot={(hour, index) => {
            const title = hourTitle(hour, versionA, versionB);
            return {
              to: viewerPath("hour", { partition: hour.partition }),
              title,
              "data-objects-a": hour.objects_a,
              "data-objects-b": hour.objects_b,
              "aria-label": title,
              children: (
                <PairedBars plot={plot} index={index} values={[["a", hour.objects_a], ["b", hour.objects_b]]} />
              ),
            };
          }}
        />
      </PlotSvg>
      <figcaption id="compare-chart-caption" className="legend">
        <span>
          <i className="series-a" /> {versionA} (active)
        </span>
        <span>
          <i className="series-b" /> {versionB}
        </span>
        <span className="muted">objects per hour (UTC); a pair of bars opens its hour</span>
      </figcaption>
    </figure>
  );
}
