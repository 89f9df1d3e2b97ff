import { useRef } from "react";
import type { RelativeLine } from "../lib/records";
import { type Point, centroid, drawLine, polygonPoints, toPixels } from "../lib/sources";
import { useRenderedWidth } from "./useRenderedWidth";

/** Zones' colours, in the order of their names (Okabe-Ito, apart from the lines' yellow). */
const ZONE_COLORS = ["#56B4E9", "#E69F00", "#009E73", "#CC79A7", "#0072B2", "#D55E00"];
/** The names' size on the page, in CSS pixels, however large the frame or narrow the page. */
const TEXT_PX = 14;

/** A name written over the photo: light text on a dark outline, readable on any background. */
function Name({
  at,
  text,
  fontSize,
  anchor = "middle",
}: {
  at: Point;
  text: string;
  fontSize: number;
  anchor?: "middle" | "start" | "end";
}) {
  return (
    <text x={at[0]} y={at[1]} fontSize={fontSize} textAnchor={anchor} dominantBaseline="middle" className="feature-name">
      {text}
    </text>
  );
}

/** A counting line or its arrow as drawn: a dark casing under a yellow stroke (app.css), to show on any frame. */
function CasedLine(ends: { x1: number; y1: number; x2: number; y2: number }) {
  return (
    <>
      <line {...ends} className="casing" />
      <line {...ends} className="stroke" />
    </>
  );
}

/** Where a line's name goes: beside its start, towards the middle of the frame, above it unless at the top. */
function namePlace(start: Point, width: number, fontSize: number): { at: Point; anchor: "start" | "end" } {
  const right = start[0] > width / 2;
  const y = start[1] < fontSize * 1.5 ? start[1] + fontSize : start[1] - fontSize * 0.9;
  return { at: [start[0] + (right ? -1 : 1) * fontSize * 0.5, y], anchor: right ? "end" : "start" };
}

/**
 * A frame of the source with its counting lines and zones drawn over it, in the frame's pixels (viewBox
 * 0 0 width height): each line with its name and an arrow towards its "in" side, each zone a translucent polygon
 * with its name. The lines and zones are image-relative (sources.toml), so they fit any frame of the camera.
 */
export function LinesAndZones({
  src,
  alt,
  width,
  height,
  lines,
  zones,
}: {
  /** the frame's image (null: none, the lines and zones on a blank frame) */
  src: string | null;
  alt: string;
  width: number;
  height: number;
  lines: Record<string, RelativeLine>;
  zones: Record<string, [number, number][]>;
}) {
  const overlay = useRef<HTMLDivElement>(null);
  const rendered = useRenderedWidth(overlay);
  // In the frame's pixels: TEXT_PX at the size the frame is drawn; until measured, a guess from its size.
  const fontSize =
    rendered === null ? Math.max(14, Math.round(Math.max(width, height) / 45)) : (TEXT_PX * width) / rendered;
  const arrow = Math.min(width, height) * 0.08;
  const lineNames = Object.keys(lines).sort();
  const zoneNames = Object.keys(zones).sort();
  return (
    <div className="overlay lines-zones" ref={overlay} style={{ aspectRatio: `${width} / ${height}`, maxWidth: width }}>
      {src !== null && <img src={src} alt={alt} width={width} height={height} />}
      <svg
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="none"
        role="group"
        aria-label={alt}
        data-testid="lines-zones"
      >
        {zoneNames.map((name, index) => {
          const color = ZONE_COLORS[index % ZONE_COLORS.length];
          const middle = toPixels(centroid(zones[name]), width, height);
          return (
            <g key={`zone-${name}`} className="zone" role="group" aria-label={`zone ${name}`} data-zone={name}>
              <title>{`zone ${name}: visits and dwell time are counted inside it`}</title>
              <polygon points={polygonPoints(zones[name], width, height)} fill={color} stroke={color} />
              <Name at={middle} text={name} fontSize={fontSize} />
            </g>
          );
        })}
        {lineNames.map((name) => {
          const drawn = drawLine(lines[name], width, height, arrow);
          const ends = { x1: drawn.start[0], y1: drawn.start[1], x2: drawn.end[0], y2: drawn.end[1] };
          const hasArrow = drawn.inward[0] !== 0 || drawn.inward[1] !== 0;
          return (
            <g key={`line-${name}`} className="counting-line" role="group" aria-label={`line ${name}`} data-line={name}>
              <title>{`line ${name}: crossing it the way of the arrow counts "in", the other way "out"`}</title>
              <CasedLine {...ends} />
              <circle cx={drawn.start[0]} cy={drawn.start[1]} r={fontSize * 0.3} className="end" />
              <circle cx={drawn.end[0]} cy={drawn.end[1]} r={fontSize * 0.3} className="end" />
              {hasArrow && (
                <g className="arrow" data-direction="in">
                  <CasedLine x1={drawn.middle[0]} y1={drawn.middle[1]} x2={drawn.arrowTip[0]} y2={drawn.arrowTip[1]} />
                  <polygon points={drawn.arrowHead.map(([x, y]) => `${x},${y}`).join(" ")} className="head" />
                  <Name at={drawn.inLabel} text="in" fontSize={fontSize * 0.85} />
                  <Name at={drawn.outLabel} text="out" fontSize={fontSize * 0.85} />
                </g>
              )}
              <Name {...namePlace(drawn.start, width, fontSize)} text={name} fontSize={fontSize} />
            </g>
          );
        })}
      </svg>
    </div>
  );
}
