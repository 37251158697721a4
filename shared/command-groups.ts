import type { Group, GroupLoader } from "./command.js";

/**
 * Which command modules make each group: the one place a group's commands are
 * listed. Every import is dynamic, so that a reader loads only the groups it asks
 * for: the /api.php dispatcher loads a group on its first call to it (in its split
 * bundle each group is a chunk of its own), while shared/registry.ts loads them
 * all for the CDK stack, the local gateway and the docs. The per-group Lambdas
 * import their own modules statically (functions/<group>/index.ts), so their
 * single-file bundles carry no other group.
 *
 * A new command module joins here; a new command in an existing module joins that
 * module's list, then `npm run command-index` records its name for /api.php.
 */
export const GROUP_COMMANDS: Record<Group, GroupLoader> = {
  health: async () => (await import("./commands/health.js")).healthCommands,
  auth: async () => (await import("./commands/auth.js")).authCommands,
  admin: async () => (await import("./commands/admin.js")).adminCommands,
  reference: async () => {
    const [reference, subscribers] = await Promise.all([import("./commands/reference.js"), import("./commands/subscribers.js")]);
    return [...reference.referenceCommands, ...subscribers.subscriberCommands];
  },
  journeys: async () => {
    const [journeys, clone] = await Promise.all([import("./commands/journeys.js"), import("./commands/clone.js")]);
    return [...journeys.journeyCommands, ...clone.cloneCommands];
  },
  actions: async () => (await import("./commands/actions.js")).actionCommands,
  events: async () => (await import("./commands/events.js")).eventCommands,
  stats: async () => (await import("./commands/stats.js")).statsCommands,
  exports: async () => (await import("./commands/exports.js")).exportCommands,
};
