import { loadConfig } from "../../shared/config.js";
import { httpHandler } from "../../shared/http/lambda.js";
import { commands } from "../../shared/registry.js";

loadConfig();

/**
 * /api.php (GET and POST) dispatches on `Command` across the whole registry, with
 * the legacy statuses. It also serves API Gateway's $default route, so a known
 * v1 path with the wrong method answers 100001 and anything else 100003.
 */
export const handler = httpHandler(commands, "legacy");
