import { describe, expect, it } from "vitest";
import { type LabelRequest, type Rect, leaderLine, overlaps, placeLabels } from "./labelPlacement";

const W = 640;
const H = 480;

/** The pairs of placed captions that overlap, as "i/j". */
function collisions(places: Rect[]): string[] {
  const found: string[] = [];
  places.forEach((a, i) => places.slice(i + 1).forEach((b, k) => overlaps(a, b) && found.push(`${i}/${i + 1 + k}`)));
  return found;
}

function inside(place: Rect): boolean {
  return place.x >= 0 && place.y >= 0 && place.x + place.w <= W && place.y + place.h <= H;
}

const caption = (box: Rect, below = false): LabelRequest => ({ box, w: 90, h: 18, below });

/** A deterministic pseudo-random sequence in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("placeLabels", () => {
  it("puts a lone caption above its box, or inside its top at the image's top edge", () => {
    const [above] = placeLabels([caption({ x: 100, y: 100, w: 200, h: 150 })], W, H);
    expect(above).toEqual({ x: 100, y: 82, w: 90, h: 18 });
    const [top] = placeLabels([caption({ x: 100, y: 0, w: 200, h: 150 })], W, H);
    expect(top).toEqual({ x: 100, y: 0, w: 90, h: 18 });
  });

  it("puts a second set's caption under its box first", () => {
    const [under] = placeLabels([caption({ x: 100, y: 100, w: 200, h: 150 }, true)], W, H);
    expect(under).toEqual({ x: 100, y: 250, w: 90, h: 18 });
  });

  it("keeps captions inside the image", () => {
    const corner = caption({ x: 600, y: 470, w: 40, h: 10 });
    const places = placeLabels([corner, caption({ x: 0, y: 0, w: 640, h: 480 })], W, H);
    expect(places.every(inside)).toBe(true);
  });

  it("separates the captions of coinciding boxes (both versions' boxes at the same place)", () => {
    const boxes: Rect[] = [
      { x: 50, y: 120, w: 180, h: 200 },
      { x: 210, y: 110, w: 150, h: 210 },
      { x: 330, y: 130, w: 160, h: 190 },
    ];
    const places = placeLabels([...boxes.map((box) => caption(box)), ...boxes.map((box) => caption(box, true))], W, H);
    expect(collisions(places)).toEqual([]);
    expect(places.every(inside)).toBe(true);
  });

  it("separates the captions of many identical boxes", () => {
    const same = Array.from({ length: 40 }, () => caption({ x: 200, y: 150, w: 120, h: 100 }));
    const places = placeLabels(same, W, H);
    expect(collisions(places)).toEqual([]);
    expect(places.every(inside)).toBe(true);
  });

  it("separates the captions of a crowded image", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const next = random(seed);
      const labels = Array.from({ length: 60 }, () => {
        const w = 20 + next() * 200;
        const h = 20 + next() * 200;
        return caption({ x: next() * (W - w), y: next() * (H - h), w, h }, next() < 0.5);
      });
      const places = placeLabels(labels, W, H);
      expect(collisions(places), `seed ${seed}`).toEqual([]);
      expect(places.every(inside)).toBe(true);
    }
  });

  it("places every caption even when the image is full (overlapping only then)", () => {
    const places = placeLabels(Array.from({ length: 300 }, () => caption({ x: 0, y: 0, w: W, h: H })), W, H);
    expect(places).toHaveLength(300);
    expect(places.every(inside)).toBe(true);
  });
});

describe("leaderLine", () => {
  const box = { x: 100, y: 100, w: 200, h: 100 };

  it("is none for a caption touching its box", () => {
    expect(leaderLine({ x: 100, y: 82, w: 90, h: 18 }, box)).toBeNull();
    expect(leaderLine({ x: 120, y: 120, w: 90, h: 18 }, box)).toBeNull();
  });

  it("ties a caption moved away to the nearest side of its box", () => {
    expect(leaderLine({ x: 150, y: 20, w: 90, h: 18 }, box)).toEqual({ x1: 200, y1: 38, x2: 200, y2: 100 });
    expect(leaderLine({ x: 400, y: 300, w: 90, h: 18 }, box)).toEqual({ x1: 400, y1: 300, x2: 300, y2: 200 });
  });
});
