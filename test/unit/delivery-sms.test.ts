import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  InternalServerException,
  ServiceQuotaExceededException,
  ThrottlingException,
  ValidationException,
} from "@aws-sdk/client-pinpoint-sms-voice-v2";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { productEpoch } from "../../shared/clock.js";
import { parseActions } from "../../shared/domain/trees/actions.js";
import { readOutbox } from "../../shared/delivery/local-outbox.js";
import type { SmsMessage } from "../../shared/delivery/model.js";
import type { SendTextMessage } from "../../shared/delivery/sms.js";
import { parseSmsGateways, smsOriginationIdentities, validateSmsGateways, type SmsGateways } from "../../shared/delivery/sms-gateways.js";
import { formatDateTime } from "../../shared/time.js";

/**
 * SendSMS's delivery module (ENGINE §8.5, §8.2). prepareSms is pure; sendSms is exercised
 * three ways: with constructed SDK errors (fault injection) for the classification and the
 * throttle schedule, with the real SDK client against a local HTTP server that answers as
 * the service would (so the classification is checked on the errors the SDK really
 * throws), and in local mode into the local outbox.
 */

type SmsModule = typeof import("../../shared/delivery/sms.js");

/** The module as a runner would load it under this environment: SMS_GATEWAYS is parsed at load. */
async function load(env: Record<string, string | undefined>): Promise<SmsModule> {
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  vi.resetModules();
  return import("../../shared/delivery/sms.js");
}

afterEach(() => {
  vi.unstubAllEnvs();
});

const ARN = (kind: string, id: string) => `arn:aws:sms-voice:eu-west-1:111122223333:${kind}/${id}`;
const GATEWAYS: SmsGateways = {
  "0": { OriginationIdentity: ARN("pool", "pool-default"), SenderIds: {} },
  "5": {
    OriginationIdentity: ARN("phone-number", "phone-5"),
    SenderIds: { ACME: ARN("sender-id", "ACME/GB"), "+15551234567": ARN("phone-number", "phone-alt") },
    Users: [12, 14],
  },
};

const subscriber = (extra: Record<string, unknown> = {}) => ({
  UserID: 12,
  SubscriberID: 456,
  EmailAddress: "ada@example.com",
  CustomFields: { "3": "Ada", "7": "Gold" },
  PhoneNumber: "+447700900123",
  ...extra,
});
const TAGS = { UserID: "12", JourneyID: "7", ActionID: "13", SubscriberID: "456", EntryID: "01JH0000000000000000000000" };

describe("prepareSms", () => {
  let sms: SmsModule;
  beforeAll(async () => {
    sms = await load({ SMS_GATEWAYS: JSON.stringify(GATEWAYS), SMS_CONFIGURATION_SET: undefined });
  });
  const prepare = (params: Record<string, unknown>, extra: { userId?: number; subscriber?: Record<string, unknown> } = {}) =>
    sms.prepareSms({ userId: extra.userId ?? 12, params: { message: "Hi", gateway_id: 5, ...params }, subscriber: extra.subscriber ?? subscriber(), tags: TAGS });
  const sent = (params: Record<string, unknown>, extra?: Parameters<typeof prepare>[1]) => {
    const d = prepare(params, extra);
    if (d.kind !== "send") throw new Error(`expected a send, got ${JSON.stringify(d)}`);
    return d;
  };

  describe("destination", () => {
    it("no PhoneNumber: skip_if_no_phone true (or absent, its default) skips NoPhone, false fails NoPhone", () => {
      const none = subscriber({ PhoneNumber: undefined });
      expect(prepare({ skip_if_no_phone: true }, { subscriber: none })).toEqual({ kind: "skip", reason: "NoPhone" });
      expect(prepare({}, { subscriber: none })).toEqual({ kind: "skip", reason: "NoPhone" });
      expect(prepare({ skip_if_no_phone: false }, { subscriber: none })).toEqual({ kind: "fail", reason: "NoPhone" });
      expect(prepare({ skip_if_no_phone: false }, { subscriber: subscriber({ PhoneNumber: "" }) })).toEqual({ kind: "fail", reason: "NoPhone" });
    });

    it("sends to the subscriber's PhoneNumber", () => {
      expect(sent({}).message.To).toBe("+447700900123");
    });
  });

  describe("gateways", () => {
    it("gateway_id 0, or absent, selects entry \"0\"", () => {
      expect(sent({ gateway_id: 0 }).message.From).toBe(ARN("pool", "pool-default"));
      const { gateway_id: _, ...noGateway } = { gateway_id: 0, message: "Hi" };
      expect(sms.prepareSms({ userId: 99, params: noGateway, subscriber: subscriber(), tags: TAGS })).toMatchObject({
        kind: "send",
        message: { From: ARN("pool", "pool-default") },
      });
    });

    it("gateway_id 0 without an entry \"0\" is Skipped NotConfigured", () => {
      const only5 = { "5": GATEWAYS["5"]! };
      expect(sms.prepareSms({ userId: 12, params: { message: "Hi", gateway_id: 0 }, subscriber: subscriber(), tags: TAGS }, only5)).toEqual({
        kind: "skip",
        reason: "NotConfigured",
        detail: { GatewayID: 0 },
      });
    });

    it("no entry for another ID, or a user not listed, is Failed GatewayUnknown", () => {
      expect(prepare({ gateway_id: 6 })).toEqual({ kind: "fail", reason: "GatewayUnknown", detail: { GatewayID: 6 } });
      expect(prepare({ gateway_id: 5 }, { userId: 13 })).toEqual({ kind: "fail", reason: "GatewayUnknown", detail: { GatewayID: 5 } });
      // Users listed: 12 and 14 may use it.
      expect(sent({ gateway_id: 5 }, { userId: 14 }).message.From).toBe(ARN("phone-number", "phone-5"));
      // No Users: every user.
      expect(sent({ gateway_id: 0 }, { userId: 13 }).message.From).toBe(ARN("pool", "pool-default"));
    });

    it("a non-empty sender_id must be a key of SenderIds, whose ARN becomes the origination identity", () => {
      expect(sent({ sender_id: "ACME" }).message.From).toBe(ARN("sender-id", "ACME/GB"));
      expect(sent({ sender_id: "+15551234567" }).message.From).toBe(ARN("phone-number", "phone-alt"));
      expect(sent({ sender_id: "" }).message.From).toBe(ARN("phone-number", "phone-5"));
      expect(prepare({ sender_id: "OTHER" })).toEqual({ kind: "fail", reason: "SenderNotAllowed", detail: { GatewayID: 5, SenderID: "OTHER" } });
      // Case matters: a sender ID is an exact registration.
      expect(prepare({ sender_id: "acme" })).toMatchObject({ kind: "fail", reason: "SenderNotAllowed" });
      expect(prepare({ gateway_id: 0, sender_id: "ACME" })).toMatchObject({ kind: "fail", reason: "SenderNotAllowed" });
    });

    it("uses the gateways SMS_GATEWAYS held when the module loaded", () => {
      expect(Object.keys(sms.SMS_GATEWAYS)).toEqual(["0", "5"]);
      expect(sms.SMS_GATEWAYS["5"]?.Users).toEqual([12, 14]);
    });
  });

  describe("body", () => {
    it("fills {{EmailAddress}}, {{SubscriberID}}, {{CustomField<ID>}} and §8.1's tags; unknown tags stay", () => {
      const body = sent({
        message: "Hi {{CustomField3}} ({{ emailaddress }}, #{{SubscriberID}}), tier %Subscriber:CustomField7%, x{{CustomField9}}x, {{Foo}} %Link:Unsubscribe%",
      }).message.Body;
      expect(body).toBe("Hi Ada (ada@example.com, #456), tier Gold, xx, {{Foo}} %Link:Unsubscribe%");
    });

    it("include_link appends link_url with its non-empty utm_* parameters, URL-encoded", () => {
      const body = sent({
        message: "Offers:",
        include_link: true,
        link_url: "https://shop.example.com/sale",
        link_utm_source: "sms",
        link_utm_medium: "",
        link_utm_campaign: "spring sale & more",
      }).message.Body;
      expect(body).toBe("Offers: https://shop.example.com/sale?utm_source=sms&utm_campaign=spring%20sale%20%26%20more");
    });

    it("keeps the link's existing query and fragment, and replaces a UTM key it already has", () => {
      const body = sent({
        message: "",
        include_link: true,
        link_url: "https://shop.example.com/a?x=1&utm_source=old&q=a%20b#top",
        link_utm_source: "new/source",
        link_utm_medium: "text",
      }).message.Body;
      expect(body).toBe("https://shop.example.com/a?x=1&q=a%20b&utm_source=new%2Fsource&utm_medium=text#top");
    });

    it("appends the bare link when no utm_* is set, and nothing when include_link is false", () => {
      expect(sent({ message: "Go\n", include_link: true, link_url: "https://x.example/p?a=1" }).message.Body).toBe("Go\nhttps://x.example/p?a=1");
      expect(sent({ message: "Go", include_link: false, link_url: "https://x.example/", link_utm_source: "sms" }).message.Body).toBe("Go");
    });

    it("link_expiry_hours has no effect", () => {
      const base = { message: "Go", include_link: true, link_url: "https://x.example/", link_utm_source: "sms" };
      expect(sent({ ...base, link_expiry_hours: 1 })).toEqual(sent({ ...base, link_expiry_hours: 720 }));
    });

    it("an empty body is Failed EmptyContent, without a call", () => {
      expect(prepare({ message: "" })).toEqual({ kind: "fail", reason: "EmptyContent" });
      expect(prepare({ message: " {{CustomField9}} " })).toEqual({ kind: "fail", reason: "EmptyContent" });
    });
  });

  describe("the call's settings", () => {
    it("MessageType is TRANSACTIONAL for priority high, else PROMOTIONAL", () => {
      expect(sent({ priority: "high" }).message.MessageType).toBe("TRANSACTIONAL");
      expect(sent({ priority: "normal" }).message.MessageType).toBe("PROMOTIONAL");
      expect(sent({}).message.MessageType).toBe("PROMOTIONAL");
    });

    it("max_retry_attempts is capped at 3 and defaults to 2", () => {
      expect(sent({ max_retry_attempts: 10 }).maxRetries).toBe(3);
      expect(sent({ max_retry_attempts: 3 }).maxRetries).toBe(3);
      expect(sent({ max_retry_attempts: 1 }).maxRetries).toBe(1);
      expect(sent({ max_retry_attempts: 0 }).maxRetries).toBe(0);
      expect(sent({}).maxRetries).toBe(2);
    });

    it("carries the tags as the Context, and no ConfigurationSet when SMS_CONFIGURATION_SET is unset", () => {
      const d = sent({});
      expect(d.message.Tags).toEqual(TAGS);
      expect(d.message).not.toHaveProperty("ConfigurationSet");
    });

    it("sets ConfigurationSet from SMS_CONFIGURATION_SET", async () => {
      const withSet = await load({ SMS_GATEWAYS: JSON.stringify(GATEWAYS), SMS_CONFIGURATION_SET: "journeys-sms" });
      const d = withSet.prepareSms({ userId: 12, params: { message: "Hi", gateway_id: 0 }, subscriber: subscriber(), tags: TAGS });
      expect(d).toMatchObject({ kind: "send", message: { ConfigurationSet: "journeys-sms" } });
    });
  });

  it("reads the canonical parameters journey.actions.update stores", () => {
    const parsed = parseActions(
      [
        {
          Action: "sendsms",
          Message: "Hello {{EmailAddress}}",
          GATEWAY_ID: "5",
          sender_id: "ACME",
          priority: "high",
          include_link: "yes",
          link_url: "https://shop.example.com/",
          link_utm_campaign: "launch",
        },
      ],
      { journeyId: 7 },
    );
    if (!parsed.ok) throw new Error(parsed.message);
    const d = sms.prepareSms({ userId: 12, params: parsed.actions[0]!.ActionParameters, subscriber: subscriber(), tags: TAGS });
    // The stored default of max_retry_attempts is 3 (actions.ts), within §8.5's cap.
    expect(d).toEqual({
      kind: "send",
      maxRetries: 3,
      message: {
        From: ARN("sender-id", "ACME/GB"),
        To: "+447700900123",
        Body: "Hello ada@example.com https://shop.example.com/?utm_campaign=launch",
        MessageType: "TRANSACTIONAL",
        Tags: TAGS,
      },
    });
  });
});

describe("SMS_GATEWAYS", () => {
  it("fails loudly at load on invalid JSON or a malformed gateway", async () => {
    await expect(load({ SMS_GATEWAYS: "{not json" })).rejects.toThrow(/Invalid SMS_GATEWAYS: not JSON/);
    await expect(load({ SMS_GATEWAYS: '{"1": {"SenderIds": {}}}' })).rejects.toThrow(/"1"\.OriginationIdentity must be a non-empty string/);
  });

  it("unset or empty means no gateway: gateway 0 is then NotConfigured", async () => {
    const sms = await load({ SMS_GATEWAYS: "" });
    expect(sms.SMS_GATEWAYS).toEqual({});
    expect(sms.prepareSms({ userId: 1, params: { message: "Hi" }, subscriber: subscriber(), tags: TAGS })).toMatchObject({ kind: "skip", reason: "NotConfigured" });
  });

  it("validates every setting, naming the path", () => {
    const bad: [unknown, RegExp][] = [
      [[], /\(root\) must be an object/],
      [{ x: { OriginationIdentity: "+1" } }, /"x" is not a gateway ID/],
      [{ "01": { OriginationIdentity: "+1" } }, /"01" is not a gateway ID/],
      [{ "1": { OriginationIdentity: "+1", Sender: {} } }, /"1"\.Sender is not a gateway setting/],
      [{ "1": { OriginationIdentity: "+1", SenderIds: { A: "" } } }, /"1"\.SenderIds\["A"\] must be a non-empty string/],
      [{ "1": { OriginationIdentity: "+1", SenderIds: [] } }, /"1"\.SenderIds must be an object/],
      [{ "1": { OriginationIdentity: "+1", Users: [12, 0] } }, /"1"\.Users\[1\] must be a positive integer UserID/],
      [{ "1": { OriginationIdentity: "+1", Users: 12 } }, /"1"\.Users must be an array/],
    ];
    for (const [value, message] of bad) expect(() => validateSmsGateways(value), JSON.stringify(value)).toThrow(message);
  });

  it("canonicalises Users and SenderIds, and lists every origination identity once", () => {
    const g = parseSmsGateways(JSON.stringify({ "2": { OriginationIdentity: " +15550100 ", Users: ["12", 14] }, "3": { OriginationIdentity: "+15550100", SenderIds: { A: "arn:a" } } }));
    expect(g).toEqual({ "2": { OriginationIdentity: "+15550100", SenderIds: {}, Users: [12, 14] }, "3": { OriginationIdentity: "+15550100", SenderIds: { A: "arn:a" } } });
    expect(smsOriginationIdentities(g)).toEqual(["+15550100", "arn:a"]);
  });
});

/* ------------------------------------------------------------------------------------------------
 * Sending
 * --------------------------------------------------------------------------------------------- */

const MESSAGE: SmsMessage = {
  From: ARN("pool", "pool-default"),
  To: "+447700900123",
  Body: "Hi Ada",
  MessageType: "PROMOTIONAL",
  ConfigurationSet: "journeys-sms",
  Tags: TAGS,
};
const meta = (httpStatusCode?: number) => ({ $metadata: httpStatusCode === undefined ? {} : { httpStatusCode } });

describe("classifySmsError", () => {
  let sms: SmsModule;
  beforeAll(async () => {
    sms = await load({});
  });

  it("ThrottlingException (4xx) is throttled", () => {
    expect(sms.classifySmsError(new ThrottlingException({ message: "Rate exceeded", ...meta(400) }))).toEqual({ kind: "throttled", code: "ThrottlingException" });
  });

  it("another error answer with a 4xx status is refused, its code the error's name", () => {
    expect(sms.classifySmsError(new ValidationException({ message: "bad number", Reason: "INVALID_PARAMETER", ...meta(400) }))).toEqual({
      kind: "refused",
      code: "ValidationException",
      message: "bad number",
    });
    expect(sms.classifySmsError(new ServiceQuotaExceededException({ message: "quota", Reason: "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT", ...meta(402) }))).toMatchObject({
      kind: "refused",
      code: "ServiceQuotaExceededException",
    });
    expect(sms.classifySmsError({ name: "AccessDeniedException", message: "no", ...meta(403) })).toMatchObject({ kind: "refused", code: "AccessDeniedException" });
  });

  it("a 5xx is noAnswer, even one named ThrottlingException", () => {
    expect(sms.classifySmsError(new InternalServerException({ message: "boom", ...meta(500) }))).toEqual({
      kind: "noAnswer",
      error: "InternalServerException (HTTP 500): boom",
    });
    expect(sms.classifySmsError({ name: "ThrottlingException", message: "odd", ...meta(503) })).toMatchObject({ kind: "noAnswer" });
  });

  it("a timeout, a reset or anything without an HTTP status is noAnswer", () => {
    const timeout = Object.assign(new Error("a request has exceeded the configured 10000 ms requestTimeout."), { name: "TimeoutError", ...meta() });
    expect(sms.classifySmsError(timeout)).toEqual({ kind: "noAnswer", error: "TimeoutError: a request has exceeded the configured 10000 ms requestTimeout." });
    expect(sms.classifySmsError(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))).toEqual({ kind: "noAnswer", error: "Error: socket hang up" });
    expect(sms.classifySmsError({ name: "ThrottlingException", message: "no status" })).toMatchObject({ kind: "noAnswer" });
    expect(sms.classifySmsError("weird")).toEqual({ kind: "noAnswer", error: "Error: weird" });
  });
});

describe("sendSms: the call and the throttle schedule (injected faults)", () => {
  let sms: SmsModule;
  beforeAll(async () => {
    sms = await load({ DELIVERY_MODE: undefined });
  });

  /** A call that throws each planned error in turn, then accepts; every input is kept. */
  function scripted(errors: unknown[]) {
    const inputs: unknown[] = [];
    const send: SendTextMessage = async (input) => {
      inputs.push(input);
      const next = errors.shift();
      if (next !== undefined) throw next;
      return { MessageId: "msg-1" };
    };
    const slept: number[] = [];
    const sleep = async (ms: number) => void slept.push(ms);
    return { send, sleep, inputs, slept };
  }
  const throttle = () => new ThrottlingException({ message: "Rate exceeded", ...meta(400) });

  it("sends DestinationPhoneNumber, OriginationIdentity, MessageBody, MessageType, ConfigurationSetName and Context", async () => {
    const s = scripted([]);
    expect(await sms.sendSms(MESSAGE, 2, s)).toEqual({ kind: "accepted", messageId: "msg-1" });
    expect(s.inputs).toEqual([
      {
        DestinationPhoneNumber: "+447700900123",
        OriginationIdentity: ARN("pool", "pool-default"),
        MessageBody: "Hi Ada",
        MessageType: "PROMOTIONAL",
        ConfigurationSetName: "journeys-sms",
        Context: TAGS,
      },
    ]);
    const { ConfigurationSet: _, ...noSet } = MESSAGE;
    const t = scripted([]);
    await sms.sendSms(noSet, 2, t);
    expect(t.inputs[0]).not.toHaveProperty("ConfigurationSetName");
  });

  it("retries a throttled call after 1 s, 2 s and 4 s, then accepts", async () => {
    const s = scripted([throttle(), throttle(), throttle()]);
    expect(await sms.sendSms(MESSAGE, 3, s)).toEqual({ kind: "accepted", messageId: "msg-1" });
    expect(s.slept).toEqual([1000, 2000, 4000]);
    expect(s.inputs).toHaveLength(4);
  });

  it("still throttled after max_retry_attempts retries answers throttled", async () => {
    const s = scripted([throttle(), throttle(), throttle()]);
    expect(await sms.sendSms(MESSAGE, 2, s)).toEqual({ kind: "throttled", code: "ThrottlingException" });
    expect(s.slept).toEqual([1000, 2000]);
    expect(s.inputs).toHaveLength(3);

    const none = scripted([throttle()]);
    expect(await sms.sendSms(MESSAGE, 0, none)).toEqual({ kind: "throttled", code: "ThrottlingException" });
    expect(none.slept).toEqual([]);
    expect(none.inputs).toHaveLength(1);

    // More than 3 is held to 3.
    const many = scripted([throttle(), throttle(), throttle(), throttle(), throttle()]);
    expect(await sms.sendSms(MESSAGE, 9, many)).toMatchObject({ kind: "throttled" });
    expect(many.inputs).toHaveLength(4);
  });

  it("never retries a refusal, a 5xx or a timeout", async () => {
    const cases: [unknown, string][] = [
      [new ValidationException({ message: "bad", Reason: "INVALID_PARAMETER", ...meta(400) }), "refused"],
      [new InternalServerException({ message: "boom", ...meta(500) }), "noAnswer"],
      [Object.assign(new Error("timed out"), { name: "TimeoutError" }), "noAnswer"],
    ];
    for (const [err, kind] of cases) {
      const s = scripted([err]);
      expect((await sms.sendSms(MESSAGE, 3, s)).kind).toBe(kind);
      expect(s.inputs).toHaveLength(1);
      expect(s.slept).toEqual([]);
    }
    // A throttle followed by a 5xx: the retry happened, the 5xx ends it.
    const mixed = scripted([throttle(), new InternalServerException({ message: "boom", ...meta(502) })]);
    expect((await sms.sendSms(MESSAGE, 3, mixed)).kind).toBe("noAnswer");
    expect(mixed.inputs).toHaveLength(2);
  });

  it("an answer without a MessageId is noAnswer", async () => {
    expect(await sms.sendSms(MESSAGE, 0, { send: async () => ({}) })).toEqual({ kind: "noAnswer", error: "SendTextMessage answered without a MessageId" });
  });
});

describe("sendSms through the real SDK client, against a local server answering as the service", () => {
  type Behaviour = (req: IncomingMessage, res: ServerResponse, body: string) => void;
  const plan: Behaviour[] = [];
  const received: { target: string | undefined; body: Record<string, unknown> }[] = [];
  let server: Server;
  let sms: SmsModule;
  let send: SendTextMessage;

  const error = (status: number, type: string, message: string): Behaviour => (_req, res) => {
    res.writeHead(status, { "content-type": "application/x-amz-json-1.0", "x-amzn-errortype": type });
    res.end(JSON.stringify({ __type: type, message }));
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        received.push({ target: req.headers["x-amz-target"] as string | undefined, body: JSON.parse(body) as Record<string, unknown> });
        const behaviour = plan.shift() ?? error(500, "InternalServerException", "no plan");
        behaviour(req, res, body);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    sms = await load({ AWS_REGION: "eu-west-1", AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_SESSION_TOKEN: undefined });
    const client = await sms.buildSmsClient({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requestTimeoutMs: 500 });
    const { SendTextMessageCommand } = await import("@aws-sdk/client-pinpoint-sms-voice-v2");
    send = (input) => client.send(new SendTextMessageCommand(input));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  afterEach(() => {
    plan.length = 0;
    received.length = 0;
  });
  const noSleep = async () => {};

  it("accepted: the MessageId, from one SendTextMessage request carrying the message", async () => {
    plan.push((_req, res) => {
      res.writeHead(200, { "content-type": "application/x-amz-json-1.0" });
      res.end(JSON.stringify({ MessageId: "aws-msg-1" }));
    });
    expect(await sms.sendSms(MESSAGE, 2, { send, sleep: noSleep })).toEqual({ kind: "accepted", messageId: "aws-msg-1" });
    expect(received).toEqual([
      {
        target: "PinpointSMSVoiceV2.SendTextMessage",
        body: {
          DestinationPhoneNumber: "+447700900123",
          OriginationIdentity: ARN("pool", "pool-default"),
          MessageBody: "Hi Ada",
          MessageType: "PROMOTIONAL",
          ConfigurationSetName: "journeys-sms",
          Context: TAGS,
        },
      },
    ]);
  });

  it("a ThrottlingException answer is retried in-step, then throttled", async () => {
    plan.push(error(400, "ThrottlingException", "Rate exceeded"), error(400, "ThrottlingException", "Rate exceeded"));
    const slept: number[] = [];
    expect(await sms.sendSms(MESSAGE, 1, { send, sleep: async (ms) => void slept.push(ms) })).toEqual({ kind: "throttled", code: "ThrottlingException" });
    expect(received).toHaveLength(2);
    expect(slept).toEqual([1000]);
  });

  it("a ValidationException answer is refused, one request", async () => {
    plan.push(error(400, "ValidationException", "Invalid destination"));
    expect(await sms.sendSms(MESSAGE, 3, { send, sleep: noSleep })).toEqual({ kind: "refused", code: "ValidationException", message: "Invalid destination" });
    expect(received).toHaveLength(1);
  });

  it("a 5xx is noAnswer, and the SDK does not retry it", async () => {
    plan.push(error(500, "InternalServerException", "boom"), error(500, "InternalServerException", "boom"));
    const r = await sms.sendSms(MESSAGE, 3, { send, sleep: noSleep });
    expect(r).toMatchObject({ kind: "noAnswer" });
    expect(r.kind === "noAnswer" && r.error).toMatch(/^InternalServerException \(HTTP 500\)/);
    expect(received).toHaveLength(1);
  });

  it("a request that outlives the timeout is noAnswer, one request", async () => {
    plan.push(() => {
      /* never answers */
    });
    const r = await sms.sendSms(MESSAGE, 3, { send, sleep: noSleep });
    expect(r).toMatchObject({ kind: "noAnswer" });
    expect(r.kind === "noAnswer" && r.error).toMatch(/^TimeoutError/);
    expect(received).toHaveLength(1);
  });

  it("a connection reset is noAnswer, one request", async () => {
    plan.push((req) => req.socket.destroy());
    expect(await sms.sendSms(MESSAGE, 3, { send, sleep: noSleep })).toMatchObject({ kind: "noAnswer" });
    expect(received).toHaveLength(1);
  });
});

describe("sendSms under DELIVERY_MODE=local", () => {
  it("appends exactly one SMS to the local outbox and answers accepted", async () => {
    const sms = await load({ DELIVERY_MODE: "local", SMS_GATEWAYS: JSON.stringify(GATEWAYS) });
    const before = readOutbox().LastSeq;
    const decision = sms.prepareSms({ userId: 12, params: { message: "Hi {{CustomField3}}", gateway_id: 0, priority: "high" }, subscriber: subscriber(), tags: TAGS });
    if (decision.kind !== "send") throw new Error(JSON.stringify(decision));
    const from = productEpoch();
    const result = await sms.sendSms(decision.message, decision.maxRetries);
    const to = productEpoch();

    expect(result.kind).toBe("accepted");
    const messageId = result.kind === "accepted" ? result.messageId : "";
    expect(messageId).toMatch(/^local-[0-9a-f-]{36}$/);
    const { Messages } = readOutbox({ AfterSeq: before });
    expect(Messages).toHaveLength(1);
    const m = Messages[0]!;
    expect(m).toEqual({
      Seq: before + 1,
      Channel: "sms",
      MessageId: messageId,
      At: m.At,
      From: ARN("pool", "pool-default"),
      To: ["+447700900123"],
      Body: "Hi Ada",
      MessageType: "TRANSACTIONAL",
      Tags: TAGS,
    });
    expect([formatDateTime(new Date(from * 1000)), formatDateTime(new Date(to * 1000))]).toContain(m.At);
    expect(readOutbox({ Channel: "sms", To: "+447700900123", AfterSeq: before }).Messages.map((x) => x.MessageId)).toEqual([messageId]);
  });
});
