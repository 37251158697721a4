import type { CommandDef } from "../../shared/command.js";
import { referenceCommands } from "../../shared/commands/reference.js";
import { subscriberCommands } from "../../shared/commands/subscribers.js";
import { loadConfig } from "../../shared/config.js";
import { httpHandler } from "../../shared/http/lambda.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

/** The reference group Lambda: only its own commands are bundled (the subscriber commands are of this group). */
export const handler = httpHandler([...referenceCommands, ...subscriberCommands] as readonly CommandDef[], "v1");
