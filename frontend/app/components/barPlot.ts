/**
 * The geometry the bar charts share: `count` bars up to `max` in a plot `height` CSS pixels high and as wide as the
 * page (no viewBox: the charts' text keeps its size in CSS pixels however narrow the page is). Across, positions are
 * percentages of the plot's width; down, pixels.
 */
export interface Box {
  height: number;
  pad: { top: number; bottom: number };
}

/** On a narrow page (app.css: up to 800 px wide), about this many labels under the bars… */
const NARROW_LABELS = 4;
/** …and values over them only up to this many bars. */
const NARROW_VALUES = 12;

export type BarPlot = ReturnType<typeof barPlot>;

/** `value` percent, as an SVG length. */
export const percentLength = (value: number) => `${Number(value.toFixed(4))}%`;

export function barPlot(box: Box, count: number, max: number, labels: number) {
  const plotHeight = box.height - box.pad.top - box.pad.bottom;
  const top = Math.max(1, max);
  const slot = 100 / Math.max(1, count);
  const barWidth = slot * 0.8;
  const labelEvery = Math.max(1, Math.ceil(count / labels));
  return {
    box,
    max: top,
    plotHeight,
    /** A bar's slot and the bar itself, in percent of the plot's width. */
    slot,
    barWidth,
    /** The y coordinate of `value`. */
    y: (value: number) => box.pad.top + plotHeight - (value / top) * plotHeight,
    /** The left edge of bar `index`, centred in its slot (percent). */
    x: (index: number) => index * slot + (slot - barWidth) / 2,
    /** The baseline of the labels under the bars. */
    axisY: box.height - box.pad.bottom + 16,
    /** Whole numbers for the gridlines: 0, half, max (fewer when they coincide). */
    ticks: [...new Set([0, Math.round(top / 2), top])],
    /** Label every n-th bar, so at most about `labels` labels show. */
    labelEvery,
    /** On a phone, only every n-th of those (a multiple of `labelEvery`). */
    narrowLabelEvery: labelEvery * Math.max(1, Math.ceil(count / labelEvery / NARROW_LABELS)),
    /** Whether the values over the bars still fit side by side on a phone. */
    narrowValues: count <= NARROW_VALUES,
  };
}
