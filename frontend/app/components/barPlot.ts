/** The geometry both bar charts share: an SVG plot of `count` bars up to `max`, in a box with padding. */
export interface Box {
  width: number;
  height: number;
  pad: { top: number; right: number; bottom: number; left: number };
}

export function barPlot(box: Box, count: number, max: number, labels: number) {
  const plotWidth = box.width - box.pad.left - box.pad.right;
  const plotHeight = box.height - box.pad.top - box.pad.bottom;
  const top = Math.max(1, max);
  const slot = plotWidth / Math.max(1, count);
  return {
    max: top,
    plotHeight,
    slot,
    barWidth: Math.max(1, slot * 0.8),
    /** The y coordinate of `value`. */
    y: (value: number) => box.pad.top + plotHeight - (value / top) * plotHeight,
    /** Label every n-th bar, so at most about `labels` labels show. */
    labelEvery: Math.max(1, Math.ceil(count / labels)),
  };
}
