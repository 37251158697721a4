// Checks the prerequisites before `npm start` / `npm test`, with a clear message.
// Plain JavaScript on purpose: it must run on whatever Node the machine has.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const problems = [];
const [major] = process.versions.node.split(".").map(Number);
if (major < 20) problems.push(`Node.js >= 20 is required (found ${process.versions.node}).`);

const java = spawnSync("java", ["-version"], { encoding: "utf8" });
if (java.error) {
  problems.push("Java >= 17 is required for DynamoDB Local, and `java` was not found on PATH.");
} else {
  const text = `${java.stderr}${java.stdout}`;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(text);
  const v = m ? (m[1] === "1" ? Number(m[2]) : Number(m[1])) : NaN;
  if (!(v >= 17)) problems.push(`Java >= 17 is required for DynamoDB Local (found: ${text.split("\n")[0] || "unknown"}).`);
}

// `npm test` only: the browser tests (test/browser) drive Debian's Chromium. Fail here,
// before a minute of setup, rather than skip them; test/support/browser.ts says the same.
if (process.env.npm_lifecycle_event === "pretest") {
  const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  if (!existsSync(chromium)) {
    problems.push(`Chromium is required for the browser tests and was not found at ${chromium}: install it with \`apt-get install -y chromium\` (Debian), or set CHROMIUM_PATH.`);
  }
}

if (problems.length) {
  console.error("Cannot start the Journey API:\n  - " + problems.join("\n  - "));
  process.exit(1);
}
