/** A stable color per class label, the same on every page (chart, badges, boxes). */
export function classColor(label: string): string {
  let hash = 0;
  for (const char of label) {
    hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  }
  // Golden-angle steps spread neighbouring hashes around the color wheel.
  const hue = Math.round((hash * 137.508) % 360);
  const lightness = 38 + (hash % 3) * 8;
  return `hsl(${hue} 70% ${lightness}%)`;
}
