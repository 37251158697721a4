import type { CommandDef } from "../../shared/command.js";
import { eventCommands } from "../../shared/commands/events.js";
import { loadConfig } from "../../shared/config.js";
import { httpHandler } from "../../shared/http/lambda.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

/** The events group Lambda: journey.events.ingest over HTTP (the queue has its own worker). */
export const handler = httpHandler(eventCommands as readonly CommandDef[], "v1");
