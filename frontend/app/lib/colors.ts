/** A stable color per class label, the same on every page (chart, badges, boxes). */
const PALETTE = [
  "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#2aa3b8",
  "#d4a017", "#f032e6", "#6b8e23", "#9a6324", "#800000", "#000075",
];

export function classColor(label: string): string {
  let hash = 0;
  for (const char of label) {
    hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  }
  return PALETTE[hash % PALETTE.length];
}
