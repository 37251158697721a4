import type { CommandDef } from "../../shared/command.js";
import { actionCommands } from "../../shared/commands/actions.js";
import { loadConfig } from "../../shared/config.js";
import { httpHandler } from "../../shared/http/lambda.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

/** The actions group Lambda: only its own commands are bundled. */
export const handler = httpHandler(actionCommands as readonly CommandDef[], "v1");
