import { TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { lazyStack } from "./stack-context.js";
import { benchDocClient } from "./counters.js";
import { eachLimited } from "./stats.js";
const stack = lazyStack();
const ctx = await stack.get();
const doc = benchDocClient(ctx);
const T = ctx.env["TABLE_NAME"]!;
try {
  for (const items of [1, 10]) for (const conc of [1, 4, 16]) {
    const n = 200;
    const t0 = performance.now();
    await eachLimited(Array.from({ length: n }, (_, i) => i), conc, async (i) => {
      await doc.send(new TransactWriteCommand({ TransactItems: Array.from({ length: items }, (_, k) => ({ Update: { TableName: T, Key: { PK: `P#${items}#${conc}#${i}`, SK: `S${k}` }, UpdateExpression: "ADD C :one", ExpressionAttributeValues: { ":one": 1 } } })) }));
    });
    const ms = performance.now() - t0;
    console.log(`tx of ${items} items, concurrency ${conc}: ${(n / (ms / 1000)).toFixed(0)} tx/s, ${(ms / n * conc).toFixed(1)} ms per tx`);
  }
  for (const conc of [1, 16]) {
    const n = 500; const t0 = performance.now();
    await eachLimited(Array.from({ length: n }, (_, i) => i), conc, async (i) => { await doc.send(new UpdateCommand({ TableName: T, Key: { PK: `U#${conc}#${i}`, SK: "x" }, UpdateExpression: "ADD C :one", ExpressionAttributeValues: { ":one": 1 } })); });
    const ms = performance.now() - t0;
    console.log(`UpdateItem concurrency ${conc}: ${(n / (ms / 1000)).toFixed(0)} /s`);
  }
} finally { doc.destroy(); await stack.stop(); }
