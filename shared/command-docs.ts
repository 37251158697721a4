import type { CommandDef } from "./command.js";
import type { CommandError } from "./errors.js";

/**
 * What the reference (/docs, docs/openapi.json) says about a command beyond its
 * definition: its one-line summary, the codes its `run` raises and its non-JSON
 * answers. No handler reads any of it, so it stays out of the Lambda bundles.
 *
 * Each command file registers its commands' docs in a statement labelled `DOCS:`,
 * right after the definition:
 *
 *     DOCS: document(journeyGet, { summary: "…", errors: [notFound(3, "Journey not found")] });
 *
 * Run unbundled (tsx, vitest, the CDK app, `npm run openapi`) the statement runs like
 * any other. The Lambda bundles are built with esbuild's `dropLabels: ["DOCS"]`
 * (infra/bundling.ts), which deletes the statement, so the texts, the error objects
 * and this module's code are not in any deployed function.
 */
export interface CommandDocs {
  summary: string;
  /**
   * The codes `run` raises beyond its parameters' own checks (records not found,
   * conflicts, checks that need the database), for the reference at /docs. The
   * parameters' codes come from their field schemas; these cannot, so they are
   * declared beside the command, and the OpenAPI live test fails on an undeclared one.
   */
  errors?: readonly CommandError[];
  /**
   * Answers other than the JSON envelope that `run` can give as a RawReply (the CSV
   * download's 302), so the OpenAPI document declares every answer.
   */
  rawReplies?: readonly { status: number; description: string; headers: readonly string[] }[];
}

/** The label esbuild drops from the Lambda bundles (infra/bundling.ts). */
export const DOCS_LABEL = "DOCS";

const registered = new Map<string, CommandDocs>();

/** Registers a command's reference docs; call it only in a `DOCS:` statement. */
export function document(def: CommandDef, docs: CommandDocs): void {
  if (registered.has(def.name)) throw new Error(`${def.name} is documented twice`);
  registered.set(def.name, docs);
}

/** A command's reference docs; throws for a command without a `DOCS:` statement (or in a bundle, where they are dropped). */
export function docsOf(def: CommandDef): CommandDocs {
  const docs = registered.get(def.name);
  if (!docs) throw new Error(`${def.name} has no DOCS: document(...) statement`);
  return docs;
}
