// Checks the prerequisites before `npm start` / `npm test`, with a clear message.
// Plain JavaScript on purpose: it must run on whatever Node the machine has.
import { spawnSync } from "node:child_process";

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

if (problems.length) {
  console.error("Cannot start the Journey API:\n  - " + problems.join("\n  - "));
  process.exit(1);
}
