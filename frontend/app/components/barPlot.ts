/** The geometry the bar charts share: an SVG plot of `count` bars up to `max`, in a box with padding. */
export interface Box {
  width: number;
  height: number;
  pad: { top: number; right: number; bottom: number; left: number };
}

export type BarPlot = ReturnType<typeof barPlot>;

export function barPlot(box: Box, count: number, max: number, labels: number) {
  const plotWidth = box.width - box.pad.left - box.pad.right;
  const plotHeight = box.height - box.pad.top - box.pad.bottom;
  const top = Math.max(1, max);
  const slot = plotWidth / Math.max(1, count);
  const barWidth = Math.max(1, slot * 0.8);
  return {
    box,
    max: top,
    plotHeight,
    slot,
    barWidth,
    /** The y coordinate of `value`. */
    y: (value: number) => box.pad.top + plotHeight - (value / top) * plotHeight,
    /** The left edge of bar `index`, centred in its slot. */
    x: (index: number) => box.pad.left + index * slot + (slot - barWidth) / 2,
    /** The baseline of the labels under the bars. */
    axisY: box.height - box.pad.bottom + 16,
    /** Whole numbers for the gridlines: 0, half, max (fewer when they coincide). */
    ticks: [...new Set([0, Math.round(top / 2), top])],
    /** Label every n-th bar, so at most about `labels` labels show. */
    labelEvery: Math.max(1, Math.ceil(count / labels)),
  };
}
