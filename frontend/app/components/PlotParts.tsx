import type { ComponentProps, ReactNode } from "react";
import { Link } from "react-router";
import { classColor } from "../lib/colors";
import { type BarPlot, percentLength } from "./barPlot";

/** Pixels per digit of a gridline's number (11px text), and the gap to the plot. */
const DIGIT_WIDTH = 7;
const TICK_GAP = 6;
/** Wide enough, with the chart's padding, for half the first bar's label (about 55 px). */
const MIN_TICK_WIDTH = 24;

/**
 * A bar chart: its gridlines' numbers in a column of their own, then the plot with its gridlines, whose slots
 * (`BarSlot`) are the children. The labels of the first and last bars reach out of the plot, over the numbers'
 * column and into a margin (app.css).
 */
export function PlotSvg({
  plot,
  children,
  ...aria
}: { plot: BarPlot; children: ReactNode } & Pick<ComponentProps<"svg">, "role" | "aria-label" | "aria-labelledby">) {
  const { box, y, ticks } = plot;
  const tickWidth = Math.max(MIN_TICK_WIDTH, ...ticks.map((tick) => String(tick).length * DIGIT_WIDTH + TICK_GAP));
  return (
    <div className="plot">
      <svg className="plot-ticks" width={tickWidth} height={box.height} aria-hidden="true">
        {ticks.map((tick) => (
          <text key={tick} x={tickWidth - TICK_GAP} y={y(tick) + 4} textAnchor="end">
            {tick}
          </text>
        ))}
      </svg>
      <svg className="plot-bars" width="100%" height={box.height} {...aria}>
        {ticks.map((tick) => (
          <line key={tick} className="gridline" aria-hidden="true" x1="0" x2="100%" y1={y(tick)} y2={y(tick)} />
        ))}
        {children}
      </svg>
    </div>
  );
}

/** A slot's `data-*` attributes (on its link), as an object. */
type DataAttributes = { [name: `data-${string}`]: string | number | undefined };

type BarSlotProps = {
  plot: BarPlot;
  index: number;
  to: string;
  title: string;
  label: string;
  /** written over the bars, at its height (none: no value) */
  value?: number;
  children: ReactNode;
} & Omit<ComponentProps<typeof Link>, "to" | "title" | "children" | "className"> &
  DataAttributes;

/**
 * Slot `index` of a bar chart: a link over the plot's whole height (hovered as one), with its title, its bars
 * (the children), a value over them and a label under them (every `labelEvery`-th slot; on a phone fewer of both,
 * app.css hiding the `minor` ones). Other attributes (data-*, aria-label) go to the link.
 */
export function BarSlot({ plot, index, to, title, label, value, children, ...attributes }: BarSlotProps) {
  const middle = percentLength(plot.x(index) + plot.barWidth / 2);
  return (
    <Link to={to} className="bar" {...attributes}>
      <title>{title}</title>
      <rect
        x={percentLength(plot.x(index))}
        y={plot.box.pad.top}
        width={percentLength(plot.barWidth)}
        height={plot.plotHeight}
        className="bar-hit"
      />
      {children}
      {value !== undefined && (
        <text
          x={middle}
          y={plot.y(value) - 4}
          textAnchor="middle"
          className={plot.narrowValues ? "value" : "value minor"}
        >
          {value}
        </text>
      )}
      {index % plot.labelEvery === 0 && (
        <text
          x={middle}
          y={plot.axisY}
          textAnchor="middle"
          className={index % plot.narrowLabelEvery === 0 ? "axis" : "axis minor"}
        >
          {label}
        </text>
      )}
    </Link>
  );
}

/** What a chart says of one hour's slot (`HourSlots` adds its place and label). */
export type HourSlot = Omit<BarSlotProps, "plot" | "index" | "label">;

/**
 * The slots of a chart over hours, one per hour in order: each a `BarSlot` keyed by its partition, labelled with its
 * hour (`hourLabel`) and marked `data-partition`; `slot` gives the rest (link, title, value, data-*, bars). The
 * hourly charts (overview, compare, a source's timeline) lay out their slots alike through it.
 */
export function HourSlots<Hour extends { partition: string }>({
  plot,
  hours,
  slot,
}: {
  plot: BarPlot;
  hours: readonly Hour[];
  slot: (hour: Hour, index: number) => HourSlot;
}) {
  return hours.map((hour, index) => {
    const { children, ...attributes } = slot(hour, index);
    return (
      <BarSlot
        key={hour.partition}
        plot={plot}
        index={index}
        label={hourLabel(hour.partition)}
        data-partition={hour.partition}
        {...attributes}
      >
        {children}
      </BarSlot>
    );
  });
}

/**
 * The bars of slot `index` stacked bottom up, one per class of `labels` (in that order) that `counts` has, each in
 * its class's colour (the overview's and a source's objects per hour). `marked`: each bar also carries its class
 * and count as `data-label` and `data-value`.
 */
export function StackedBars({
  plot,
  index,
  labels,
  counts,
  marked = false,
}: {
  plot: BarPlot;
  index: number;
  labels: readonly string[];
  counts: Readonly<Record<string, number>>;
  marked?: boolean;
}) {
  const x = percentLength(plot.x(index));
  const width = percentLength(plot.barWidth);
  let top = plot.y(0);
  return labels
    .filter((label) => counts[label])
    .map((label) => {
      const height = (counts[label] / plot.max) * plot.plotHeight;
      top -= height;
      return (
        <rect
          key={label}
          x={x}
          y={top}
          width={width}
          height={height}
          fill={classColor(label)}
          data-label={marked ? label : undefined}
          data-value={marked ? counts[label] : undefined}
        />
      );
    });
}

/** The legend of stacked bars: each class of `labels` with its colour, in the order of the stack. */
export function ClassKeys({ labels }: { labels: readonly string[] }) {
  return labels.map((label) => (
    <span key={label}>
      <i style={{ background: classColor(label) }} /> {label}
    </span>
  ));
}

/** The two bars of one slot side by side (A beside B, in beside out): each half the slot wide, less a tenth of it
 * between them; `series` names the bar's class (`series-{series}`) and its data attribute. */
export function PairedBars({
  plot,
  index,
  values,
}: {
  plot: BarPlot;
  index: number;
  values: readonly [string, number][];
}) {
  const half = plot.barWidth / 2;
  return values.map(([series, value], position) => (
    <rect
      key={series}
      x={percentLength(plot.x(index) + position * half)}
      y={plot.y(value)}
      width={percentLength(half * 0.9)}
      height={plot.y(0) - plot.y(value)}
      className={`bar-fill series-${series}`}
      data-series={series}
      data-value={value}
    />
  ));
}

/** `2026-11-25-04:00` or `2026-11-25T04:00` → `11-25 04h`, an hour's label under its bar. */
export function hourLabel(hour: string): string {
  return `${hour.slice(5, 10)} ${hour.slice(11, 13)}h`;
}
