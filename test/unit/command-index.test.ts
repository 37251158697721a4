import { describe, expect, it } from "vitest";
import { GROUPS, type CommandDef, type Group, type GroupLoader } from "../../shared/command.js";
import { GROUP_COMMANDS } from "../../shared/command-groups.js";
import { COMMAND_INDEX } from "../../shared/command-index.js";
import { CommandError } from "../../shared/errors.js";
import { lazyRouter } from "../../shared/http/lambda.js";
import type { HttpRequest } from "../../shared/http/request.js";
import { commands } from "../../shared/registry.js";

/**
 * The /api.php dispatcher knows commands by the generated index and loads a
 * group's definitions on first use. The index must say what the registry says,
 * and the dispatcher must load only what a request needs.
 */

const request = (method: string, path: string, command?: string): HttpRequest => ({
  method,
  path,
  headers: {},
  params: new Map(command === undefined ? [] : [["command", command]]),
});

/** The real loaders, counting what each request loads. */
function countingLoaders(): { loaders: Record<Group, GroupLoader>; loads: Group[] } {
  const loads: Group[] = [];
  const loaders = Object.fromEntries(
    GROUPS.map((g) => [
      g,
      () => {
        loads.push(g);
        return GROUP_COMMANDS[g]();
      },
    ]),
  ) as Record<Group, GroupLoader>;
  return { loaders, loads };
}

async function hardCode(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    return err.code;
  }
}

describe("the command index (shared/command-index.ts)", () => {
  it("is the registry's names, groups and routes (run `npm run command-index` after changing a command)", () => {
    expect(COMMAND_INDEX).toEqual(commands.map((c) => ({ name: c.name, group: c.group, ...(c.route ? { route: c.route } : {}) })));
  });

  it("names each command once, case-insensitively, as /api.php looks names up", () => {
    const names = COMMAND_INDEX.map((c) => c.name.toLowerCase());
    expect(new Set(names).size).toBe(names.length);
  });

  it("loads, for each group, only definitions of that group", async () => {
    for (const g of GROUPS) {
      const defs = await GROUP_COMMANDS[g]();
      expect(defs.length, g).toBeGreaterThan(0);
      expect(new Set(defs.map((d) => d.group)), g).toEqual(new Set([g]));
    }
  });
});

describe("the /api.php dispatcher's lazy lookup", () => {
  it("answers an unknown command (100003) and a known path with the wrong method (100001) without loading any group", async () => {
    const { loaders, loads } = countingLoaders();
    const router = lazyRouter(COMMAND_INDEX, loaders);
    expect(await hardCode(router.resolve(request("GET", "/api.php"), "legacy", "GET /api.php"))).toBe(100003);
    expect(await hardCode(router.resolve(request("POST", "/api.php", "no.such.command"), "legacy", "POST /api.php"))).toBe(100003);
    expect(await hardCode(router.resolve(request("DELETE", "/api/v1/journey"), "legacy", "$default"))).toBe(100001);
    expect(await hardCode(router.resolve(request("GET", "/nowhere"), "legacy", "$default"))).toBe(100003);
    expect(loads).toEqual([]);
  });

  it("loads a command's group on its first call only, and nothing else", async () => {
    const { loaders, loads } = countingLoaders();
    const router = lazyRouter(COMMAND_INDEX, loaders);
    const ingest = await router.resolve(request("POST", "/api.php", "Journey.Events.Ingest"), "legacy", "POST /api.php");
    expect(ingest.name).toBe("journey.events.ingest");
    const list = await router.resolve(request("GET", "/api.php", "subscriber.journey.list"), "legacy", "GET /api.php");
    expect(list.group).toBe("events");
    expect(loads).toEqual(["events"]);
    const health = await router.resolve(request("GET", "/api.php", "health"), "legacy", "GET /api.php");
    expect(health).toBe(commands.find((c) => c.name === "health"));
    expect(loads).toEqual(["events", "health"]);
  });

  it("serves the same definitions as the registry, for every command", async () => {
    const router = lazyRouter(COMMAND_INDEX, GROUP_COMMANDS);
    for (const c of commands) {
      const def: CommandDef = await router.resolve(request("POST", "/api.php", c.name), "legacy", "POST /api.php");
      expect(def, c.name).toBe(c);
    }
  });

  it("tries a group's import again after it failed, instead of failing every later call", async () => {
    let attempts = 0;
    const loaders = {
      ...GROUP_COMMANDS,
      health: async () => {
        attempts += 1;
        if (attempts === 1) throw new Error("injected: chunk failed to load");
        return GROUP_COMMANDS.health();
      },
    };
    const router = lazyRouter(COMMAND_INDEX, loaders);
    const health = () => router.resolve(request("GET", "/api.php", "health"), "legacy", "GET /api.php");
    await expect(health()).rejects.toThrow("injected");
    expect((await health()).name).toBe("health");
    expect(attempts).toBe(2);
  });
});
