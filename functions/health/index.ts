import type { CommandDef } from "../../shared/command.js";
import { healthCommands } from "../../shared/commands/health.js";
import { loadConfig } from "../../shared/config.js";
import { httpHandler } from "../../shared/http/lambda.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

/** The health group Lambda: only its own commands are bundled. */
export const handler = httpHandler(healthCommands as readonly CommandDef[], "v1");
