import { GROUP_COMMANDS } from "../../shared/command-groups.js";
import { COMMAND_INDEX } from "../../shared/command-index.js";
import { loadConfig } from "../../shared/config.js";
import { httpHandler, lazyRouter } from "../../shared/http/lambda.js";

loadConfig();

/**
 * /api.php (GET and POST) dispatches on `Command` across the whole registry, with
 * the legacy statuses. It also serves API Gateway's $default route, so a known
 * v1 path with the wrong method answers 100001 and anything else 100003.
 *
 * It knows every command by the registry's index and imports a group's code on
 * the first call to one of its commands: bundled with code splitting (each group a
 * chunk of its own, infra/bundling.ts), a cold start loads the dispatcher and one
 * group instead of every command and the engine.
 */
export const handler = httpHandler(lazyRouter(COMMAND_INDEX, GROUP_COMMANDS), "legacy");
