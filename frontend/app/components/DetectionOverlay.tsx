import { useRef } from "react";
import { classColor, textColorOn } from "../lib/colors";
import { type Rect, leaderLine, placeLabels } from "../lib/labelPlacement";
import type { Detection } from "../lib/records";
import { viewerPath } from "../lib/viewer-routes";
import { displayName } from "./ImageCard";
import { useRenderedWidth } from "./useRenderedWidth";

/** One set of boxes over the image, drawn in one style. */
export interface BoxLayer {
  /**
   * Names the set: its boxes carry `data-layer` and are styled by the `layer-<name>` class (app.css: one colour for
   * the whole set). None: each box in its class's colour (the image page).
   */
  name?: string;
  detections: Detection[];
  /** dashed outlines, with the captions preferably under the boxes (a solid box's caption keeps its place above) */
  dashed?: boolean;
}

interface Props {
  /** the image's key: its original (the media_original route), named after its file */
  imageKey: string;
  width: number;
  height: number;
  /** one set of boxes in the classes' colours… */
  detections?: Detection[];
  /** …or several sets, each in its own style (drawn in this order) */
  layers?: BoxLayer[];
}

/** A caption's width per character, in ems: system-ui semibold measures 0.61–0.67 for labels with a percentage. */
const CHAR_EM = 0.66;
/** The captions' size on the page, in CSS pixels, however large the image or narrow the page. */
const CAPTION_PX = 13;

interface Caption {
  layer: BoxLayer;
  detection: Detection;
  text: string;
  place: Rect;
}

const layerClass = (layer: BoxLayer) => (layer.name === undefined ? undefined : `layer-${layer.name}`);
/** A detection's colour: its class's, except in named layers, which app.css colours per layer. */
const boxColor = (layer: BoxLayer, detection: Detection) =>
  layer.name === undefined ? classColor(detection.label) : undefined;

function CaptionLabel({ caption, fontSize, padding }: { caption: Caption; fontSize: number; padding: number }) {
  const { place, detection, layer } = caption;
  const color = boxColor(layer, detection);
  const tie = leaderLine(place, detection.box);
  return (
    <g className="caption">
      {tie && <line className="leader" {...tie} stroke={color} />}
      <rect className="caption-bg" x={place.x} y={place.y} width={place.w} height={place.h} fill={color} />
      {/* The text is fitted to its background, which was sized (and placed) from an estimate of its width. */}
      <text
        x={place.x + padding}
        // the background is 1.25 em high: the baseline just under 1 em leaves room for descenders
        y={place.y + fontSize * 0.95}
        fontSize={fontSize}
        textLength={place.w - 2 * padding}
        lengthAdjust="spacingAndGlyphs"
        fill={color === undefined ? "#FFFFFF" : textColorOn(color)}
      >
        {caption.text}
      </text>
    </g>
  );
}

/**
 * The image with its detections drawn over it: an SVG in the image's own pixel coordinates
 * (viewBox 0 0 width height), one <rect class="box" data-label data-confidence> per detection at box x, y, w, h;
 * with `layers`, one group per set, its boxes marked `data-layer`. The captions are drawn over all the boxes, each
 * where it covers no other caption (lib/labelPlacement).
 */
export function DetectionOverlay({ imageKey, width, height, detections = [], layers }: Props) {
  const overlay = useRef<HTMLDivElement>(null);
  const rendered = useRenderedWidth(overlay);
  // In the image's pixels: CAPTION_PX at the size the image is drawn; until measured, a guess from its size.
  const fontSize =
    rendered === null ? Math.max(12, Math.round(Math.max(width, height) / 45)) : (CAPTION_PX * width) / rendered;
  const padding = fontSize / 4;
  const sets = layers ?? [{ detections }];
  const wanted = sets.flatMap((layer) =>
    layer.detections.map((detection) => ({
      layer,
      detection,
      text: `${detection.label} ${Math.round(detection.confidence * 100)}%`,
    })),
  );
  const places = placeLabels(
    wanted.map(({ layer, detection, text }) => ({
      box: detection.box,
      w: text.length * fontSize * CHAR_EM + 2 * padding,
      h: fontSize + padding,
      below: layer.dashed,
    })),
    width,
    height,
  );
  const captions: Caption[] = wanted.map((caption, index) => ({ ...caption, place: places[index] }));
  return (
    <div className="overlay" ref={overlay} style={{ aspectRatio: `${width} / ${height}`, maxWidth: width }}>
      <img
        src={viewerPath("media_original", { key: imageKey })}
        alt={displayName(imageKey)}
        width={width}
        height={height}
      />
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" aria-label="Detections">
        {sets.map((layer, index) => (
          <g key={layer.name ?? index} className={layerClass(layer)}>
            {layer.detections.map((detection, n) => {
              const { x, y, w, h } = detection.box;
              return (
                <rect
                  key={n}
                  className={layer.dashed ? "box dashed" : "box"}
                  data-label={detection.label}
                  data-confidence={detection.confidence}
                  data-layer={layer.name}
                  x={x}
                  y={y}
                  width={w}
                  height={h}
                  stroke={boxColor(layer, detection)}
                />
              );
            })}
          </g>
        ))}
        {sets.map((layer, index) => (
          <g key={`captions-${layer.name ?? index}`} className={layerClass(layer)} aria-hidden="true">
            {captions
              .filter((caption) => caption.layer === layer)
              .map((caption, n) => (
                <CaptionLabel key={n} caption={caption} fontSize={fontSize} padding={padding} />
              ))}
          </g>
        ))}
      </svg>
    </div>
  );
}
