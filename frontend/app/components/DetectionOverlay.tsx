import { classColor } from "../lib/colors";
import type { Detection } from "../lib/records";

/** One set of boxes over the image, drawn in one style. */
export interface BoxLayer {
  /**
   * Names the set: its boxes carry `data-layer` and are styled by the `layer-<name>` class (app.css: one colour for
   * the whole set). None: each box in its class's colour (the image page).
   */
  name?: string;
  detections: Detection[];
  /** dashed outlines, with the captions under the boxes (so a solid box's caption at the same place stays readable) */
  dashed?: boolean;
}

interface Props {
  src: string;
  alt: string;
  width: number;
  height: number;
  /** one set of boxes in the classes' colours… */
  detections?: Detection[];
  /** …or several sets, each in its own style (drawn in this order) */
  layers?: BoxLayer[];
}

function Box({ detection, layer, fontSize, height }: { detection: Detection; layer: BoxLayer; fontSize: number; height: number }) {
  const { x, y, w, h } = detection.box;
  const color = layer.name === undefined ? classColor(detection.label) : undefined;
  const caption = `${detection.label} ${Math.round(detection.confidence * 100)}%`;
  const labelHeight = fontSize + 4;
  const labelY = layer.dashed
    ? y + h + labelHeight <= height
      ? y + h
      : y + h - labelHeight
    : y >= labelHeight
      ? y - labelHeight
      : y;
  return (
    <g className="detection">
      <rect
        className={layer.dashed ? "box dashed" : "box"}
        data-label={detection.label}
        data-confidence={detection.confidence}
        data-layer={layer.name}
        x={x}
        y={y}
        width={w}
        height={h}
        stroke={color}
      />
      <rect
        className="caption-bg"
        x={x}
        y={labelY}
        width={caption.length * fontSize * 0.6 + 8}
        height={labelHeight}
        fill={color}
      />
      <text x={x + 4} y={labelY + fontSize} fontSize={fontSize}>
        {caption}
      </text>
    </g>
  );
}

/**
 * The image with its detections drawn over it: an SVG in the image's own pixel coordinates
 * (viewBox 0 0 width height), one <rect class="box" data-label data-confidence> per detection at box x, y, w, h;
 * with `layers`, one group per set, its boxes marked `data-layer`.
 */
export function DetectionOverlay({ src, alt, width, height, detections = [], layers }: Props) {
  const fontSize = Math.max(12, Math.round(Math.max(width, height) / 45));
  const sets = layers ?? [{ detections }];
  return (
    <div className="overlay" style={{ aspectRatio: `${width} / ${height}`, maxWidth: width }}>
      <img src={src} alt={alt} width={width} height={height} />
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" aria-label="Detections">
        {sets.map((layer, index) => (
          <g key={layer.name ?? index} className={layer.name === undefined ? undefined : `layer-${layer.name}`}>
            {layer.detections.map((detection, n) => (
              <Box key={n} detection={detection} layer={layer} fontSize={fontSize} height={height} />
            ))}
          </g>
        ))}
      </svg>
    </div>
  );
}
