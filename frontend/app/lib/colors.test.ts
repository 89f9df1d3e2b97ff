import { describe, expect, it } from "vitest";
import { COCO_CLASSES } from "./classes";
import { CLASS_COLORS, COMMON_CLASS_COLORS, classColor, contrast, linearRgb, textColorOn } from "./colors";

/** CIELAB (D65) of a #RRGGBB colour. */
function lab(color: string): [number, number, number] {
  const [r, g, b] = linearRgb(color);
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
  const x = f((0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047);
  const y = f(0.2126 * r + 0.7152 * g + 0.0722 * b);
  const z = f((0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883);
  return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
}

/** CIE76 colour difference: about 2.3 is just noticeable, past 20–30 clearly different colours. */
function deltaE(a: string, b: string): number {
  const [l1, a1, b1] = lab(a);
  const [l2, a2, b2] = lab(b);
  return Math.hypot(l1 - l2, a1 - a2, b1 - b2);
}

/** The closest pair of `labels` by their colours. */
function closestPair(labels: readonly string[]): { pair: string; distance: number } {
  let closest = { pair: "", distance: Infinity };
  labels.forEach((first, index) => {
    for (const second of labels.slice(index + 1)) {
      const distance = deltaE(classColor(first), classColor(second));
      if (distance < closest.distance) closest = { pair: `${first}/${second}`, distance };
    }
  });
  return closest;
}

describe("classColor", () => {
  it("gives each of the 80 COCO classes its own colour", () => {
    expect(COCO_CLASSES).toHaveLength(80);
    expect(Object.keys(CLASS_COLORS).sort()).toEqual([...COCO_CLASSES].sort());
    expect(new Set(COCO_CLASSES.map(classColor)).size).toBe(80);
    expect(closestPair(COCO_CLASSES).distance).toBeGreaterThan(12);
  });

  it("keeps the common classes clearly apart", () => {
    const common = Object.keys(COMMON_CLASS_COLORS);
    const vehicles = ["bicycle", "car", "motorbike", "bus", "truck"];
    const animals = ["dog", "cat", "horse", "sheep", "cow", "bird"];
    expect(common).toEqual(["person", ...vehicles, ...animals]);
    expect(common.every((label) => COCO_CLASSES.includes(label))).toBe(true);
    const { pair, distance } = closestPair(common);
    expect(distance, pair).toBeGreaterThan(30);
  });

  it("picks a palette colour for another model's labels, always the same", () => {
    const palette = new Set(Object.values(CLASS_COLORS));
    for (const label of ["forklift", "pallet", "hard hat", "Person"]) {
      expect(palette.has(classColor(label))).toBe(true);
      expect(classColor(label)).toBe(classColor(label));
    }
    expect(new Set(["forklift", "pallet", "hard hat", "crane", "drone"].map(classColor)).size).toBeGreaterThan(1);
  });

  it("has a readable caption colour on every class colour", () => {
    for (const label of COCO_CLASSES) {
      const background = classColor(label);
      expect(contrast(textColorOn(background), background), label).toBeGreaterThanOrEqual(4.5);
    }
    expect(textColorOn("#000000")).toBe("#FFFFFF");
    expect(textColorOn("#F0E442")).toBe("#000000");
  });
});

describe("contrast", () => {
  it("is WCAG's ratio", () => {
    expect(contrast("#FFFFFF", "#000000")).toBeCloseTo(21, 5);
    expect(contrast("#777777", "#777777")).toBe(1);
    expect(contrast("#0072B2", "#FFFFFF")).toBeCloseTo(5.14, 1);
  });
});
