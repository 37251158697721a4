import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Metafile } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { splitBuildOptions } from "../../infra/bundling.js";
import type { EngineStack, EngineUser } from "../support/engine.js";
import { inputsOf, outputsAtInit } from "../support/split-bundle.js";

/**
 * The runner as CDK packages it: the code-split bundle (infra/bundling.ts, the
 * options the stack builds it with), written outside the repository and run by
 * this file's local stack in place of functions/engine/index.ts. A cold start
 * must not load the SES or SMS client, and the first SendEmail and SendSMS must
 * load them from their chunks and send: esbuild's split chunk of a CommonJS
 * package exports only `default`, which broke both sends before
 * shared/cjs-exports.ts. SES and the SMS API are doubles on 127.0.0.1 that
 * accept every call; everything else is the local stack.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const POOL = "arn:aws:sms-voice:us-east-1:111122223333:pool/pool-bundle";
type Call = { path: string; target: string; body: Record<string, unknown> };
const calls: Call[] = [];
const servers: Server[] = [];
let dir: string;
let metafile: Metafile;
let engine: EngineStack;
let support: typeof import("../support/engine.js");

/** A double that records each request and answers as the service does when it accepts. */
async function double(answer: (c: Call) => Record<string, unknown>): Promise<string> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const call = { path: req.url ?? "", target: String(req.headers["x-amz-target"] ?? ""), body: JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown> };
      calls.push(call);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(answer(call)));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "journey-engine-bundle-"));
  metafile = (await build({ ...splitBuildOptions(path.join(ROOT, "functions/engine/index.ts"), dir, ROOT), metafile: true })).metafile;
  const ses = await double(() => ({ MessageId: `ses-${calls.length}` }));
  const sms = await double(() => ({ MessageId: `sms-${calls.length}` }));
  // Read when the bundle loads (SMS_GATEWAYS at module load), so set before the stack starts it.
  Object.assign(process.env, {
    DELIVERY_MODE: "ses",
    SES_ENDPOINT: ses,
    SES_CONFIGURATION_SET: "journey-bundle",
    SENDER_DOMAINS: JSON.stringify({ "0": { Domain: "news.example.com" } }),
    SMS_GATEWAYS: JSON.stringify({ "0": { OriginationIdentity: POOL } }),
    SMS_ENDPOINT: sms,
  });
  support = await import("../support/engine.js");
  engine = await support.startEngineStack({}, { handlerModules: { engine: pathToFileURL(path.join(dir, "index.mjs")).href } });
}, 180_000);

afterAll(async () => {
  await engine?.stop();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  for (const k of ["DELIVERY_MODE", "SES_ENDPOINT", "SES_CONFIGURATION_SET", "SENDER_DOMAINS", "SMS_GATEWAYS", "SMS_ENDPOINT"]) delete process.env[k];
  if (dir) await rm(dir, { recursive: true, force: true });
});

const CLIENTS = ["node_modules/@aws-sdk/client-sesv2/", "node_modules/@aws-sdk/client-pinpoint-sms-voice-v2/"];

describe("the runner's split bundle", () => {
  it("loads neither the SES nor the SMS client at cold start; both are in the package as chunks", () => {
    const atInit = inputsOf(metafile, outputsAtInit(metafile));
    expect(atInit.some((i) => i.startsWith("shared/engine/"))).toBe(true);
    expect(atInit.filter((i) => CLIENTS.some((c) => i.includes(c)))).toEqual([]);
    const all = inputsOf(metafile);
    for (const c of CLIENTS) expect(all.some((i) => i.includes(c)), c).toBe(true);
  });

  it("sends an email through SES and a text through the SMS API from those chunks, and records both Done", { timeout: 90_000 }, async () => {
    const user: EngineUser = await engine.user();
    const l = Number((await user.post("/api/v1/list", { SubscriberListName: "L" })).body["ListID"]);
    const e = Number((await user.post("/api/v1/email", { EmailName: "E", Subject: "Hello", HTMLContent: "<p>h</p>", PlainContent: "t" })).body["EmailID"]);
    const j = Number((await user.post("/api/v1/journey", { Name: "Bundled" })).body["JourneyID"]);
    const upd = await user.patch("/api/v1/journey.actions", {
      JourneyID: j,
      Actions: [
        { Action: "SendEmail", EmailID: e, From: { Name: "News", Email: "n@news.example.com" }, Published: true },
        { Action: "SendSMS", gateway_id: 0, message: "Hi", Published: true },
      ],
    });
    expect(upd.status, upd.text).toBe(200);
    expect((await user.get("/api/v1/journey.enable", { JourneyID: j })).status).toBe(200);
    const sid = await support.subscriber(user, l, "bundled@example.com", { PhoneNumber: "+447700900124" });
    calls.length = 0;
    const res = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: j, ListID: l, SubscriberID: sid });
    expect(res.status, res.text).toBe(200);
    await engine.idle();

    expect(calls.map((c) => c.path === "/v2/email/outbound-emails" ? "ses" : c.target)).toEqual(["ses", "PinpointSMSVoiceV2.SendTextMessage"]);
    expect(calls[0]!.body).toMatchObject({ Destination: { ToAddresses: ["bundled@example.com"] }, ConfigurationSetName: "journey-bundle" });
    expect(calls[1]!.body).toMatchObject({ DestinationPhoneNumber: "+447700900124", OriginationIdentity: POOL, MessageBody: "Hi" });
    const [cursor] = await support.cursorsOf(user.userId, sid);
    const steps = (cursor!["Steps"] as { Action: string; Outcome: string; Detail: Record<string, unknown> }[]).map((s) => [s.Action, s.Outcome, s.Detail["MessageId"]]);
    expect(steps).toEqual([
      ["SendEmail", "Done", "ses-1"],
      ["SendSMS", "Done", "sms-2"],
    ]);
  });
});
