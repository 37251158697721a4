import type { CommandDef } from "../../shared/command.js";
import { exportCommands } from "../../shared/commands/exports.js";
import { loadConfig } from "../../shared/config.js";
import { httpHandler } from "../../shared/http/lambda.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

/** The exports group Lambda: submit and poll CSV exports; it never touches S3 itself (downloads are presigned). */
export const handler = httpHandler(exportCommands as readonly CommandDef[], "v1");
