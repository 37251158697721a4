import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { benchBundles } from "./bundles.js";
import { benchEngine } from "./engine.js";
import { benchExport } from "./export.js";
import { benchHotJourney } from "./hot-journey.js";
import { benchIngest } from "./ingest.js";
import { benchListLatency } from "./list-latency.js";
import { benchWeb } from "./web.js";
import { describeMachine, machineInfo } from "./machine.js";
import { markdownTable, textTable, type Section, type SectionDef } from "./section.js";
import { lazyStack } from "./stack-context.js";

/**
 * The benchmark runner. Sections run in order, one at a time, because they time
 * things and must not compete with each other for the CPU. A failed goal is a
 * result, not an error: the exit code turns non-zero only when a section could
 * not be measured at all.
 */
/** One local stack (in memory) for every section that talks to the service, started after the bundles. */
const stack = lazyStack();

const SECTIONS: SectionDef[] = [
  { id: "bundles", run: benchBundles },
  { id: "web", run: benchWeb },
  { id: "ingest", run: async () => benchIngest(await stack.get()) },
  { id: "hot-journey", run: async () => benchHotJourney(await stack.get()) },
  { id: "list-latency", run: async () => benchListLatency(await stack.get()) },
  { id: "export", run: async () => benchExport(await stack.get()) },
  // Its own stacks, in child processes: the product clock and the sweeper timer are process-wide.
  { id: "engine", run: benchEngine },
];

/**
 * `npm run bench -- bundles hot-journey` (or `BENCH_ONLY=bundles,hot-journey`) runs
 * just those sections, for a quick look on a busy machine; the others keep their
 * last results in latest.json and latest.md.
 */
function selectedIds(): string[] {
  const ids = [...process.argv.slice(2), ...(process.env["BENCH_ONLY"] ?? "").split(",")].map((s) => s.trim()).filter(Boolean);
  const unknown = ids.filter((id) => !SECTIONS.some((s) => s.id === id));
  if (unknown.length) throw new Error(`unknown bench sections ${unknown.join(", ")}; known: ${SECTIONS.map((s) => s.id).join(", ")}`);
  return ids;
}

const RESULTS = new URL("./results/", import.meta.url);

function markdown(machine: string, sections: Section[], failed: { id: string; error: string }[]): string {
  const parts = [`# Benchmark results\n\n${machine}`];
  for (const s of sections) {
    parts.push(`## ${s.title}\n\n${markdownTable(s)}`);
    if (s.notes.length) parts.push(s.notes.map((n) => `- ${n}`).join("\n"));
    if (s.details?.length) parts.push("```\n" + s.details.join("\n") + "\n```");
  }
  for (const f of failed) parts.push(`## ${f.id}: not measured\n\n\`\`\`\n${f.error}\n\`\`\``);
  return parts.join("\n\n") + "\n";
}

/** Write then rename, so an interrupted run never leaves a half-written result behind. */
async function writeAtomically(name: string, text: string): Promise<void> {
  const target = fileURLToPath(new URL(name, RESULTS));
  await writeFile(`${target}.tmp`, text);
  await rename(`${target}.tmp`, target);
}

async function previous(): Promise<{ sections: Section[]; failed: { id: string; error: string }[] }> {
  try {
    return JSON.parse(await readFile(new URL("latest.json", RESULTS), "utf8")) as { sections: Section[]; failed: { id: string; error: string }[] };
  } catch {
    return { sections: [], failed: [] };
  }
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const machineLine = describeMachine(machine);
  console.log(machineLine);

  const only = selectedIds();
  const sections: Section[] = [];
  const failed: { id: string; error: string }[] = [];
  try {
    for (const def of SECTIONS.filter((d) => only.length === 0 || only.includes(d.id))) {
      console.log(`\n[${def.id}] running…`);
      try {
        const s = await def.run();
        sections.push(s);
        console.log(`\n## ${s.title}\n\n${textTable(s)}`);
        if (s.notes.length) console.log("\n" + s.notes.join("\n"));
        if (s.details?.length) console.log("\n" + s.details.join("\n"));
      } catch (err) {
        const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
        failed.push({ id: def.id, error });
        console.error(`\n[${def.id}] could not be measured:\n${error}`);
      }
    }
  } finally {
    await stack.stop();
  }

  if (only.length) {
    // Keep the sections not run this time, in their usual order.
    const last = await previous();
    const ran = new Set([...sections.map((s) => s.id), ...failed.map((f) => f.id)]);
    const order = (id: string) => SECTIONS.findIndex((d) => d.id === id);
    sections.push(...last.sections.filter((s) => !ran.has(s.id)));
    failed.push(...(last.failed ?? []).filter((f) => !ran.has(f.id)));
    sections.sort((a, b) => order(a.id) - order(b.id));
  }
  await mkdir(RESULTS, { recursive: true });
  await writeAtomically("latest.json", JSON.stringify({ machine, sections, failed }, null, 2) + "\n");
  await writeAtomically("latest.md", markdown(machineLine, sections, failed));
  console.log(`\nWrote ${fileURLToPath(new URL("latest.json", RESULTS))} and latest.md`);
  if (failed.length) process.exitCode = 1;
}

await main();
