/**
 * A section of the benchmark report. Sections are measured by separate modules and
 * rendered by run.ts, so that adding one (latency, throughput) touches no other.
 * `rows` are the formatted cells shown to people; `data` keeps the raw numbers
 * for latest.json, so a later comparison need not parse formatted text.
 */
export interface Section {
  id: string;
  title: string;
  columns: string[];
  /** Per column; numbers read better right-aligned. Defaults to left. */
  align?: ("l" | "r")[];
  rows: string[][];
  notes: string[];
  /** Preformatted lines (breakdowns, diagnostics) shown after the notes. */
  details?: string[];
  data: unknown;
}

export interface SectionDef {
  id: string;
  run: () => Promise<Section>;
}

export function textTable(s: Section): string {
  const all = [s.columns, ...s.rows];
  const widths = s.columns.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const cell = (v: string, i: number) =>
    s.align?.[i] === "r" ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0);
  const line = (r: string[]) => r.map(cell).join("  ").trimEnd();
  return [line(s.columns), widths.map((w) => "-".repeat(w)).join("  "), ...s.rows.map(line)].join("\n");
}

export function markdownTable(s: Section): string {
  const esc = (v: string) => v.replaceAll("|", "\\|");
  const sep = s.columns.map((_, i) => (s.align?.[i] === "r" ? "---:" : "---"));
  return [s.columns, sep, ...s.rows].map((r) => `| ${r.map(esc).join(" | ")} |`).join("\n");
}
