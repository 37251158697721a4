import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildOpenApi } from "../../shared/openapi.js";
import { commands } from "../../shared/registry.js";

describe("OpenAPI document", () => {
  const doc = buildOpenApi(commands, "test") as { paths: Record<string, Record<string, { operationId: string; parameters?: { name: string }[] }>> };

  it("has one operation for every command with a v1 route, with its parameters", () => {
    for (const c of commands.filter((x) => x.route)) {
      const op = doc.paths[c.route!.path]?.[c.route!.method.toLowerCase()];
      expect(op?.operationId, c.name).toBe(c.name);
    }
    const get = doc.paths["/api/v1/journey"]?.["get"];
    expect(get?.parameters?.map((p) => p.name)).toEqual(["JourneyID", "StartDate", "EndDate", "IncludeActivityCounters", "EmailID", "ISP"]);
  });

  it("is the committed docs/openapi.json (run `npm run openapi` after changing a command)", () => {
    const committed = JSON.parse(readFileSync(new URL("../../docs/openapi.json", import.meta.url), "utf8")) as { info: { version: string } };
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    expect(committed).toEqual(buildOpenApi(commands, pkg.version));
  });
});
