import type { CommandDef } from "../../shared/command.js";
import { authCommands } from "../../shared/commands/auth.js";
import { loadConfig } from "../../shared/config.js";
import { httpHandler } from "../../shared/http/lambda.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

/** The auth group Lambda: only its own commands are bundled. */
export const handler = httpHandler(authCommands as readonly CommandDef[], "v1");
