import { resolve } from "node:path";
import { startLocalStack } from "./stack.js";

/**
 * `npm start`: the whole API on http://localhost:$PORT with persistent data under
 * DATA_DIR. Ctrl-C stops every child process.
 */
const port = Number(process.env["PORT"] ?? 3000);
const dataRoot = resolve(process.env["DATA_DIR"] ?? ".data");
const dataDir = resolve(dataRoot, "dynamodb");
const given = process.env["ADMIN_API_KEY"];

// One short readable line per request on the terminal instead of Lambda's JSON.
process.env["LOG_FORMAT"] ??= "text";
// A default sender domain for trying SendEmail locally (it only ever reaches /_local/outbox).
process.env["SENDER_DOMAINS"] ??= JSON.stringify({ "0": { Domain: "example.com" } });

const stack = await startLocalStack({
  port,
  dataDir,
  adminKey: given,
  rateLimitPerMinute: process.env["RATE_LIMIT_PER_MINUTE"] ? Number(process.env["RATE_LIMIT_PER_MINUTE"]) : undefined,
  sessionTtlSeconds: process.env["SESSION_TTL_SECONDS"] ? Number(process.env["SESSION_TTL_SECONDS"]) : undefined,
  // The product clock (`/_local/clock`) survives a restart, as the data does, and only moves forward.
  clockFile: resolve(dataRoot, "clock.json"),
  // Unsubscribe links keep working after a restart: their signing keys live beside the data.
  unsubscribeKeysFile: resolve(dataRoot, "unsubscribe-keys.json"),
  publicBaseUrl: process.env["PUBLIC_BASE_URL"] ?? `http://localhost:${port}`,
});

const shownUrl = stack.url.replace("127.0.0.1", "localhost");
console.log(`Journey API listening on ${shownUrl}`);
console.log(`  health:    curl ${shownUrl}/health`);
console.log(`  data:      ${dataDir}`);
// The local admin key is printed once so a developer can create users; nothing else logs it.
console.log(given ? "  admin key: from ADMIN_API_KEY" : `  admin key: ${stack.adminKey}  (set ADMIN_API_KEY to choose one)`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping DynamoDB Local, the emulator and the gateway...`);
  await stack.stop();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
