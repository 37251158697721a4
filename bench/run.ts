import { mkdir, rename, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { benchBundles } from "./bundles.js";
import { benchExport } from "./export.js";
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
  { id: "list-latency", run: async () => benchListLatency(await stack.get()) },
  { id: "export", run: async () => benchExport(await stack.get()) },
];

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

async function main(): Promise<void> {
  const machine = machineInfo();
  const machineLine = describeMachine(machine);
  console.log(machineLine);

  const sections: Section[] = [];
  const failed: { id: string; error: string }[] = [];
  try {
    for (const def of SECTIONS) {
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

  await mkdir(RESULTS, { recursive: true });
  await writeAtomically("latest.json", JSON.stringify({ machine, sections, failed }, null, 2) + "\n");
  await writeAtomically("latest.md", markdown(machineLine, sections, failed));
  console.log(`\nWrote ${fileURLToPath(new URL("latest.json", RESULTS))} and latest.md`);
  if (failed.length) process.exitCode = 1;
}

await main();
