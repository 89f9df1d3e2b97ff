import type { ReactNode } from "react";

/**
 * One figure of a page's totals: `[data-stat=name]`, its value in `data-value` (empty for none) and shown as
 * `text` (default: the number, with thousands separators); `testId` marks the shown value (`data-testid`).
 */
export function Stat({
  name,
  value,
  label,
  text,
  testId,
}: {
  name: string;
  value: number | null;
  label: ReactNode;
  text?: ReactNode;
  testId?: string;
}) {
  return (
    <div className="stat" data-stat={name} data-value={value ?? ""}>
      <b data-testid={testId}>{text ?? (value === null ? "—" : value.toLocaleString("en-US"))}</b>
      <span>{label}</span>
    </div>
  );
}
