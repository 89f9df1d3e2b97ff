import type { Detection } from "../lib/records";
import { ClassLabel } from "./ClassLabel";

/**
 * Detections as rows: class, confidence, box; the ones `isShown` rejects (hidden on the image) dimmed. The table
 * scrolls sideways in its own box on a narrow page.
 */
export function DetectionTable({
  detections,
  isShown = () => true,
  ...attributes
}: {
  detections: Detection[];
  isShown?: (detection: Detection) => boolean;
  "data-testid"?: string;
}) {
  return (
    <div className="table-scroll">
      <table className="detections" {...attributes}>
        <thead>
          <tr>
            <th>Class</th>
            <th>Confidence</th>
            <th>x</th>
            <th>y</th>
            <th>w</th>
            <th>h</th>
          </tr>
        </thead>
        <tbody>
          {detections.map((d, index) => (
            <tr key={index} className={isShown(d) ? "" : "dimmed"} data-label={d.label} data-confidence={d.confidence}>
              <td>
                <ClassLabel label={d.label} />
              </td>
              <td>{(d.confidence * 100).toFixed(1)}%</td>
              <td>{d.box.x}</td>
              <td>{d.box.y}</td>
              <td>{d.box.w}</td>
              <td>{d.box.h}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
