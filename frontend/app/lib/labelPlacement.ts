/**
 * Where to put each box's caption so that no two captions cover each other: a greedy placement, in the order given
 * (the first boxes get the best places). Each caption tries, in turn, above its box, inside its top, below it and
 * inside its bottom, left-aligned then right-aligned with the box; if all of those are taken, the free place
 * nearest to its first choice, on a grid of caption-sized steps from it. Only when that grid has no room left does a
 * caption overlap another (at its first choice).
 */

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface LabelRequest {
  /** the box the caption belongs to */
  box: Rect;
  /** the caption's size */
  w: number;
  h: number;
  /** try below the box first (a second set of boxes, so its captions leave the first set's places free) */
  below?: boolean;
}

/** Whether two rectangles share some area (touching edges do not). */
export function overlaps(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

const clamp = (value: number, low: number, high: number) => Math.max(low, Math.min(value, high));

/** The first-choice places of a caption, in order, kept inside the image. */
function preferred(label: LabelRequest, width: number, height: number): Rect[] {
  const { box, w, h } = label;
  const above = box.y - h;
  const insideTop = box.y;
  const below = box.y + box.h;
  const insideBottom = box.y + box.h - h;
  const ys = label.below ? [below, insideBottom, above, insideTop] : [above, insideTop, below, insideBottom];
  const xs = [box.x, box.x + box.w - w];
  return xs.flatMap((x) =>
    ys.map((y) => ({ x: clamp(x, 0, Math.max(0, width - w)), y: clamp(y, 0, Math.max(0, height - h)), w, h })),
  );
}

/**
 * Every place on a grid through `target` (steps of half its width and its height) that lies inside the image,
 * nearest to `target` first.
 */
function nearby(target: Rect, width: number, height: number): Rect[] {
  const { w, h } = target;
  const stepX = Math.max(1, w / 2);
  const stepY = Math.max(1, h);
  const places: Rect[] = [];
  for (let x = target.x % stepX; x + w <= width; x += stepX) {
    for (let y = target.y % stepY; y + h <= height; y += stepY) places.push({ x, y, w, h });
  }
  const distance = (place: Rect) => Math.abs(place.x - target.x) + Math.abs(place.y - target.y);
  return places.sort((a, b) => distance(a) - distance(b));
}

/** A place for each caption (same order as `labels`), inside the `width` × `height` image. */
export function placeLabels(labels: LabelRequest[], width: number, height: number): Rect[] {
  const placed: Rect[] = [];
  for (const label of labels) {
    const first = preferred(label, width, height);
    const isFree = (place: Rect) => !placed.some((other) => overlaps(place, other));
    placed.push(first.find(isFree) ?? nearby(first[0], width, height).find(isFree) ?? first[0]);
  }
  return placed;
}

/**
 * A line tying a caption that was placed away from its box to the box: from the caption's point nearest the box's
 * centre to the box's point nearest that. Null when they touch.
 */
export function leaderLine(caption: Rect, box: Rect): { x1: number; y1: number; x2: number; y2: number } | null {
  const gapX = Math.max(box.x - (caption.x + caption.w), caption.x - (box.x + box.w));
  const gapY = Math.max(box.y - (caption.y + caption.h), caption.y - (box.y + box.h));
  if (gapX <= 0 && gapY <= 0) return null;
  const x1 = clamp(box.x + box.w / 2, caption.x, caption.x + caption.w);
  const y1 = clamp(box.y + box.h / 2, caption.y, caption.y + caption.h);
  return { x1, y1, x2: clamp(x1, box.x, box.x + box.w), y2: clamp(y1, box.y, box.y + box.h) };
}
