import type { HourBar } from "../lib/overview";
import { viewerPath } from "../lib/viewer-routes";
import { barPlot } from "./barPlot";
import { ClassKeys, HourSlots, PlotSvg, StackedBars } from "./PlotParts";

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
        <HourSlots
          plot={plot}
          hours={hours}
          slot={(hour, index) => {
            const detail = Object.entries(hour.counts)
              .map(([label, count]) => `${label} ${count}`)
              .join(", ");
            return {
              to: viewerPath("hour", { partition: hour.partition }),
              title: hour.summarized
                ? `${hour.partition}: ${hour.images} images, ${hour.objects} objects${detail ? ` (${detail})` : ""}`
                : `${hour.partition}: no summary`,
              value: hours.length <= 48 && hour.objects > 0 ? hour.objects : undefined,
              "data-objects": hour.objects,
              children: <StackedBars plot={plot} index={index} labels={labels} counts={hour.counts} />,
            };
          }}
        />
      </PlotSvg>
      <figcaption className="legend">
        <ClassKeys labels={labels} />
      </figcaption>
    </figure>
  );
}
