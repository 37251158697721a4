import { vi } from "vitest";

/**
 * Captures what the functions log until the spies are restored. Powertools'
 * logger writes to stdout and stderr itself, not through `console`, so those
 * streams are what is spied on; each entry is one write, i.e. one log line.
 */
export function captureLogs(): { lines: string[]; text(): string } {
  const lines: string[] = [];
  const grab = (chunk: unknown) => {
    lines.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
    return true;
  };
  vi.spyOn(process.stdout, "write").mockImplementation(grab as never);
  vi.spyOn(process.stderr, "write").mockImplementation(grab as never);
  return { lines, text: () => lines.join("") };
}

/** Everything the functions log while `fn` runs; the spies are restored after, even if it throws. */
export async function logsWhile(fn: () => Promise<unknown>): Promise<string> {
  const logs = captureLogs();
  try {
    await fn();
  } finally {
    vi.restoreAllMocks();
  }
  return logs.text();
}
