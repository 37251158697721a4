import { readFileSync, writeFileSync } from "node:fs";
import { buildOpenApi } from "../shared/openapi.js";
import { commands } from "../shared/registry.js";

// `npm run openapi`: regenerates docs/openapi.json from the registry's zod schemas.
const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
const doc = buildOpenApi(commands, pkg.version);
writeFileSync(new URL("../docs/openapi.json", import.meta.url), JSON.stringify(doc, null, 2) + "\n");
console.log(`docs/openapi.json: ${Object.keys(doc["paths"] as object).length} paths`);
