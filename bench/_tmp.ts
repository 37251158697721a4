import { lazyStack } from "./stack-context.js";
import { benchExport } from "./export.js";
import { textTable } from "./section.js";
const stack = lazyStack();
try {
  const s = await benchExport(await stack.get());
  console.log(textTable(s)); console.log(s.notes.join("\n"));
} finally { await stack.stop(); }
