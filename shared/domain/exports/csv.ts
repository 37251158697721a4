/**
 * RFC 4180 CSV with a guard against formula injection (CONTRACT §9): a cell that
 * begins with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`
 * so spreadsheets show it as text instead of evaluating it.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  let text = typeof value === "number" ? String(value) : value;
  if (typeof value === "string" && FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One record, CRLF-terminated. */
export const csvRow = (cells: (string | number | null | undefined)[]): string => cells.map(csvCell).join(",") + "\r\n";
