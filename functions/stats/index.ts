import type { CommandDef } from "../../shared/command.js";
import { statsCommands } from "../../shared/commands/stats.js";
import { loadConfig } from "../../shared/config.js";
import { httpHandler } from "../../shared/http/lambda.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

/** The stats group Lambda: the statistics reads. */
export const handler = httpHandler(statsCommands as readonly CommandDef[], "v1");
