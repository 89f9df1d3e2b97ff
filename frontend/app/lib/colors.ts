/**
 * A fixed colour per class label, the same on every page (chart, badges, boxes).
 *
 * The classes that are most frequent and often share a photo get colours from Okabe-Ito's colour-blind-safe set,
 * completed with Paul Tol's indigo, wine and cyan and Tableau 10's red and grey: chosen and assigned so that every
 * pair stays apart also as deuteranopes and protanopes see it (person, vehicles and farm animals weighted most).
 * The other COCO classes take a Glasbey-style list: each colour the farthest (CIEDE2000) from all before it.
 */
import { COCO_CLASSES } from "./classes";

export const COMMON_CLASS_COLORS: Readonly<Record<string, string>> = {
  person: "#0072B2",
  bicycle: "#CC79A7",
  car: "#332288",
  motorbike: "#E15759",
  bus: "#F0E442",
  truck: "#000000",
  dog: "#88CCEE",
  cat: "#009E73",
  horse: "#882255",
  sheep: "#BAB0AC",
  cow: "#D55E00",
  bird: "#E69F00",
};

/** For the other COCO classes, in the order of COCO_CLASSES (lightness 25–85, to show on white and on photos). */
const GLASBEY_REST = [
  "#555500", "#00EE44", "#772200", "#005555", "#AA22FF", "#889922", "#776666", "#CCBBFF", "#00EECC", "#007711",
  "#BBCCAA", "#FFAA88", "#778888", "#7788FF", "#997733", "#FFBBCC", "#776699", "#FF44FF", "#444455", "#DD1177",
  "#224422", "#EECC99", "#0099BB", "#553333", "#BB0033", "#2244EE", "#667755", "#22BBBB", "#004466", "#00AA11",
  "#882299", "#775533", "#998899", "#999977", "#AA7766", "#99CC00", "#DD1100", "#0099FF", "#555544", "#AA77DD",
  "#008888", "#FF99EE", "#BB9977", "#66CC88", "#007755", "#995566", "#BB44AA", "#BBCCCC", "#FF8822", "#DDCCDD",
  "#553355", "#556677", "#FF8888", "#771122", "#88AA99", "#FF5588", "#BBBB66", "#667700", "#99DDDD", "#99AACC",
  "#AA4400", "#995544", "#EE7755", "#334444", "#EECCBB", "#6666CC", "#CC9999", "#8888BB",
];

const rest = COCO_CLASSES.filter((label) => !(label in COMMON_CLASS_COLORS));

/** Every COCO class's colour. */
export const CLASS_COLORS: Readonly<Record<string, string>> = {
  ...COMMON_CLASS_COLORS,
  ...Object.fromEntries(rest.map((label, index) => [label, GLASBEY_REST[index]])),
};

const PALETTE = Object.values(CLASS_COLORS);

/** The colour of a class; a label outside COCO (another model's) gets one of the palette's, by a hash of it. */
export function classColor(label: string): string {
  const known = CLASS_COLORS[label];
  if (known !== undefined) return known;
  let hash = 0;
  for (const char of label) {
    hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  }
  return PALETTE[hash % PALETTE.length];
}

/** The linear (0–1) red, green and blue of a #RRGGBB colour (sRGB decoded): what luminance and CIELAB start from. */
export function linearRgb(color: string): [number, number, number] {
  const channel = (offset: number) => {
    const value = parseInt(color.slice(offset, offset + 2), 16) / 255;
    return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  return [channel(1), channel(3), channel(5)];
}

/** WCAG relative luminance of a #RRGGBB colour. */
export function luminance(color: string): number {
  const [r, g, b] = linearRgb(color);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio of two #RRGGBB colours (1 to 21). */
export function contrast(a: string, b: string): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
}

/** The text colour for a caption on `background`: white or black, whichever contrasts more. */
export function textColorOn(background: string): string {
  return contrast("#FFFFFF", background) >= contrast("#000000", background) ? "#FFFFFF" : "#000000";
}
