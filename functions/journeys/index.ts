import type { CommandDef } from "../../shared/command.js";
import { journeyCommands } from "../../shared/commands/journeys.js";
import { loadConfig } from "../../shared/config.js";
import { httpHandler } from "../../shared/http/lambda.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

/** The journeys group Lambda: only its own commands are bundled. */
export const handler = httpHandler(journeyCommands as readonly CommandDef[], "v1");
