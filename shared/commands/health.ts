import * as z from "zod/mini";
import { defineCommand } from "../command.js";

export const health = defineCommand({
  name: "health",
  summary: "Liveness: answers {\"Status\": \"ok\"}",
  route: { method: "GET", path: "/health" },
  group: "health",
  scope: "none",
  bareSuccess: true,
  params: z.object({}),
  async run() {
    return { Status: "ok" };
  },
});

export const healthCommands = [health];
