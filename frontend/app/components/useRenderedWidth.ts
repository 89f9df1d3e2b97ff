import { type RefObject, useEffect, useState } from "react";

/**
 * The width in CSS pixels at which the element is drawn, kept up to date as the page resizes; null until the
 * browser has measured it (on the server and in the first render, so that hydration matches).
 */
export function useRenderedWidth(ref: RefObject<Element | null>): number | null {
  const [width, setWidth] = useState<number | null>(null);
  useEffect(() => {
    const element = ref.current;
    if (element === null) return;
    const observer = new ResizeObserver(([entry]) => setWidth(entry.contentRect.width || null));
    observer.observe(element);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}
