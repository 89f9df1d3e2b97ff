import { classColor } from "../lib/colors";
import type { Detection } from "../lib/records";

interface Props {
  src: string;
  alt: string;
  width: number;
  height: number;
  detections: Detection[];
}

/**
 * The image with its detections drawn over it: an SVG in the image's own pixel coordinates
 * (viewBox 0 0 width height), one <rect data-label data-confidence> per detection at box x, y, w, h.
 */
export function DetectionOverlay({ src, alt, width, height, detections }: Props) {
  const fontSize = Math.max(12, Math.round(Math.max(width, height) / 45));
  return (
    <div className="overlay" style={{ aspectRatio: `${width} / ${height}`, maxWidth: width }}>
      <img src={src} alt={alt} width={width} height={height} />
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" aria-label="Detections">
        {detections.map((detection, index) => {
          const { x, y, w, h } = detection.box;
          const color = classColor(detection.label);
          const caption = `${detection.label} ${Math.round(detection.confidence * 100)}%`;
          const labelY = y >= fontSize + 4 ? y - fontSize - 4 : y;
          return (
            <g key={index} className="detection">
              <rect
                className="box"
                data-label={detection.label}
                data-confidence={detection.confidence}
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
                height={fontSize + 4}
                fill={color}
              />
              <text x={x + 4} y={labelY + fontSize} fontSize={fontSize}>
                {caption}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
