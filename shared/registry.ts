import { GROUPS, type CommandDef, type Group } from "./command.js";
import { GROUP_COMMANDS } from "./command-groups.js";

/**
 * The command registry: the spine of the service. Every group of
 * shared/command-groups.ts, all loaded. The CDK stack reads it for the routes of
 * each group Lambda, the local gateway for the same routes on localhost, the
 * docs for the reference, and `npm run command-index` for the names the /api.php
 * dispatcher knows before it loads a group (shared/command-index.ts). The
 * dispatcher itself does not import this module: it would load every group at
 * cold start.
 *
 * Adding a command is one new definition plus one line in its module's list
 * (then `npm run command-index`; a unit test fails until the index is current).
 */
export const commands: readonly CommandDef[] = (await Promise.all(GROUPS.map((g) => GROUP_COMMANDS[g]()))).flat();

export function commandsOf(group: Group): CommandDef[] {
  return commands.filter((c) => c.group === group);
}

/** Where a group's Lambda entry point lives (CDK bundles it; the local gateway imports it). */
export const entryOf = (group: Group | "legacy"): string => `functions/${group}/index.ts`;
