import type { ComponentProps, ReactNode } from "react";
import { Link } from "react-router";
import type { BarPlot } from "./barPlot";

/** The SVG of a bar chart with its gridlines; its slots (`BarSlot`) are the children. */
export function PlotSvg({
  plot,
  children,
  ...aria
}: { plot: BarPlot; children: ReactNode } & Pick<ComponentProps<"svg">, "role" | "aria-label" | "aria-labelledby">) {
  const { box, y } = plot;
  return (
    <svg viewBox={`0 0 ${box.width} ${box.height}`} {...aria}>
      {plot.ticks.map((tick) => (
        <g key={tick} className="gridline" aria-hidden="true">
          <line x1={box.pad.left} x2={box.width - box.pad.right} y1={y(tick)} y2={y(tick)} />
          <text x={box.pad.left - 6} y={y(tick) + 4} textAnchor="end">
            {tick}
          </text>
        </g>
      ))}
      {children}
    </svg>
  );
}

/**
 * Slot `index` of a bar chart: a link over the plot's whole height (hovered as one), with its title, its bars
 * (the children), a value over them and a label under them (every `labelEvery`-th slot). Other attributes
 * (data-*, aria-label) go to the link.
 */
export function BarSlot({
  plot,
  index,
  to,
  title,
  label,
  value,
  children,
  ...attributes
}: {
  plot: BarPlot;
  index: number;
  to: string;
  title: string;
  label: string;
  /** written over the bars, at its height (none: no value) */
  value?: number;
  children: ReactNode;
} & Omit<ComponentProps<typeof Link>, "to" | "title" | "children" | "className">) {
  const x = plot.x(index);
  const middle = x + plot.barWidth / 2;
  return (
    <Link to={to} className="bar" {...attributes}>
      <title>{title}</title>
      <rect x={x} y={plot.box.pad.top} width={plot.barWidth} height={plot.plotHeight} className="bar-hit" />
      {children}
      {value !== undefined && (
        <text x={middle} y={plot.y(value) - 4} textAnchor="middle" className="value">
          {value}
        </text>
      )}
      {index % plot.labelEvery === 0 && (
        <text x={middle} y={plot.axisY} textAnchor="middle" className="axis">
          {label}
        </text>
      )}
    </Link>
  );
}

/** `2026-11-25-04:00` or `2026-11-25T04:00` → `11-25 04h`, an hour's label under its bar. */
export function hourLabel(hour: string): string {
  return `${hour.slice(5, 10)} ${hour.slice(11, 13)}h`;
}
