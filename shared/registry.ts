import type { CommandDef, Group } from "./command.js";
import { actionCommands } from "./commands/actions.js";
import { adminCommands } from "./commands/admin.js";
import { authCommands } from "./commands/auth.js";
import { cloneCommands } from "./commands/clone.js";
import { eventCommands } from "./commands/events.js";
import { exportCommands } from "./commands/exports.js";
import { healthCommands } from "./commands/health.js";
import { journeyCommands } from "./commands/journeys.js";
import { referenceCommands } from "./commands/reference.js";
import { statsCommands } from "./commands/stats.js";
import { subscriberCommands } from "./commands/subscribers.js";

/**
 * The command registry: the spine of the service. The CDK stack reads it for the
 * routes of each group Lambda, the local gateway for the same routes on
 * localhost, and the /api.php dispatcher for names. Adding a command is one new
 * definition plus one line in its group's list.
 */
export const commands: readonly CommandDef[] = [
  ...healthCommands,
  ...authCommands,
  ...adminCommands,
  ...referenceCommands,
  ...subscriberCommands,
  ...journeyCommands,
  ...cloneCommands,
  ...actionCommands,
  ...eventCommands,
  ...statsCommands,
  ...exportCommands,
] as readonly CommandDef[];

export function commandsOf(group: Group): CommandDef[] {
  return commands.filter((c) => c.group === group);
}

/** Where a group's Lambda entry point lives (CDK bundles it; the local gateway imports it). */
export const entryOf = (group: Group | "legacy"): string => `functions/${group}/index.ts`;
