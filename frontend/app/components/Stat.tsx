/**
 * One figure of a page's totals: `[data-stat=name]`, its value in `data-value` (empty for none) and shown as
 * `text` (default: the number, with thousands separators).
 */
export function Stat({
  name,
  value,
  label,
  text,
}: {
  name: string;
  value: number | null;
  label: string;
  text?: string;
}) {
  return (
    <div className="stat" data-stat={name} data-value={value ?? ""}>
      <b>{text ?? (value === null ? "—" : value.toLocaleString("en-US"))}</b>
      <span>{label}</span>
    </div>
  );
}
