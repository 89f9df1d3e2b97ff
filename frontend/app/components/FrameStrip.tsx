import { Link } from "react-router";
import { classColor, textColorOn } from "../lib/colors";
import { leaderLine, placeLabels } from "../lib/labelPlacement";
import type { StripFrame } from "../lib/records";
import { captureTime, plural, shortTrackId } from "../lib/sources";
import { viewerPath } from "../lib/viewer-routes";
import { displayName } from "./ImageCard";

/** About the width a strip frame is drawn at (app.css: .strip), in CSS pixels: to size its captions. */
const DRAWN_PX = 190;
/** The captions' size there. */
const CAPTION_PX = 10;
/** A caption's width per character, in ems (system-ui semibold, digits and lowercase). */
const CHAR_EM = 0.62;

/**
 * One tracked frame: its thumbnail in an SVG as large as the frame itself (viewBox 0 0 width height; the
 * thumbnail, at most 320 px, is stretched over it), so the boxes, in the frame's pixels, fall exactly on it. Each
 * box is in its class's colour, captioned with its track's short id and its class, and carries `data-track-id`.
 * The whole frame links to its image's page.
 */
function Frame({ frame }: { frame: StripFrame }) {
  const { width, height } = frame;
  const fontSize = (CAPTION_PX * width) / DRAWN_PX;
  const padding = fontSize / 4;
  const time = captureTime(frame.captured_at);
  // Each caption where it covers no other (lib/labelPlacement), as on the image page.
  const wanted = frame.boxes.map((box) => ({ ...box, text: `${shortTrackId(box.track_id)} ${box.label}` }));
  const places = placeLabels(
    wanted.map(({ box, text }) => ({ box, w: text.length * fontSize * CHAR_EM + 2 * padding, h: fontSize + padding })),
    width,
    height,
  );
  const captions = wanted.map((caption, index) => ({ ...caption, place: places[index] }));
  const tracks = wanted.map((caption) => caption.text).join(", ");
  const description =
    `${displayName(frame.image_key)} at ${time} UTC: ${plural(frame.boxes.length, "tracked object")}` +
    (tracks ? ` (${tracks})` : "");
  return (
    <Link
      to={viewerPath("image", { key: frame.image_key })}
      className="strip-frame"
      data-testid="strip-frame"
      data-image-key={frame.image_key}
      title={frame.image_key}
    >
      <svg
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="xMidYMid meet"
        style={{ aspectRatio: `${width} / ${height}` }}
        role="img"
        aria-label={description}
      >
        <image
          href={viewerPath("media_thumbnail", { key: frame.image_key })}
          x={0}
          y={0}
          width={width}
          height={height}
          preserveAspectRatio="none"
        />
        {frame.boxes.map(({ track_id, label, box }) => (
          <rect
            key={track_id}
            className="box"
            x={box.x}
            y={box.y}
            width={box.w}
            height={box.h}
            stroke={classColor(label)}
            data-track-id={track_id}
            data-label={label}
          />
        ))}
        {captions.map(({ track_id, label, box, text, place }) => {
          const { x, y, w, h } = place;
          const color = classColor(label);
          const tie = leaderLine(place, box);
          return (
            <g key={track_id} className="caption" aria-hidden="true">
              {tie && <line className="leader" {...tie} stroke={color} />}
              <rect x={x} y={y} width={w} height={h} fill={color} />
              <text
                x={x + padding}
                y={y + fontSize * 0.95}
                fontSize={fontSize}
                textLength={w - 2 * padding}
                lengthAdjust="spacingAndGlyphs"
                fill={textColorOn(color)}
              >
                {text}
              </text>
            </g>
          );
        })}
      </svg>
      <time dateTime={frame.captured_at}>{time}</time>
    </Link>
  );
}

/** The latest tracked frames of a source, oldest first, each with its tracks' boxes. */
export function FrameStrip({ frames }: { frames: StripFrame[] }) {
  return (
    <ol className="strip" data-testid="strip">
      {frames.map((frame) => (
        <li key={frame.image_key}>
          <Frame frame={frame} />
        </li>
      ))}
    </ol>
  );
}
