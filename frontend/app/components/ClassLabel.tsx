import type { ReactNode } from "react";
import { classColor } from "../lib/colors";

/**
 * A class's name after a swatch of its colour, as every table and control that lists classes writes it, so a class
 * looks the same there as in the charts and boxes; `children` stand for the name (a link to it, say).
 */
export function ClassLabel({ label, children = label }: { label: string; children?: ReactNode }) {
  return (
    <>
      <i className="swatch" style={{ background: classColor(label) }} /> {children}
    </>
  );
}
