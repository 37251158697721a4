import type { CommandDef } from "../../shared/command.js";
import { adminCommands } from "../../shared/commands/admin.js";
import { loadConfig } from "../../shared/config.js";
import { httpHandler } from "../../shared/http/lambda.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

/** The admin group Lambda: only its own commands are bundled. */
export const handler = httpHandler(adminCommands as readonly CommandDef[], "v1");
