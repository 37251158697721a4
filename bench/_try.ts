import { benchIngest } from "./ingest.js";
import { benchListLatency } from "./list-latency.js";
import { textTable } from "./section.js";
import { lazyStack } from "./stack-context.js";
const stack = lazyStack();
try {
  for (const which of (process.env["ONLY"] ?? "ingest").split(",")) {
    const s = which === "ingest" ? await benchIngest(await stack.get()) : await benchListLatency(await stack.get());
    console.log(textTable(s)); console.log(s.notes.join("\n")); console.log((s.details ?? []).join("\n"));
  }
} finally { await stack.stop(); }
