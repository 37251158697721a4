import type { CommandDef } from "../../shared/command.js";
import { cloneCommands } from "../../shared/commands/clone.js";
import { journeyCommands } from "../../shared/commands/journeys.js";
import { loadConfig } from "../../shared/config.js";
import { httpHandler } from "../../shared/http/lambda.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

/** The journeys group Lambda: lifecycle, bulk operations and clones. */
export const handler = httpHandler([...journeyCommands, ...cloneCommands] as readonly CommandDef[], "v1");
