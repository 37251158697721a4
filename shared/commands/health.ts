import * as z from "zod/mini";
import { document } from "../command-docs.js";
import { defineCommand } from "../command.js";

export const health = defineCommand({
  name: "health",
  route: { method: "GET", path: "/health" },
  group: "health",
  scope: "none",
  bareSuccess: true,
  params: z.object({}),
  async run() {
    return { Status: "ok" };
  },
});
DOCS: document(health, {
  summary: "Liveness: answers {\"Status\": \"ok\"}",
});

export const healthCommands = [health];
