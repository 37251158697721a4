import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { mapSesEvent, sesEventId, type SesMapping } from "../../shared/delivery/ses-events.js";
import { eventsAfterSend, simulatorOutcome } from "../../shared/delivery/local-ses.js";
import { sesEvent, type SesEventDetailInput, type SesMail } from "../../shared/delivery/ses-shape.js";

/**
 * ENGINE §8.3's table, row by row, on events built as SES publishes them to EventBridge
 * (shared/delivery/ses-shape.ts), plus a few written out by hand, so the mapping is not
 * only checked against our own builder.
 */
const SET = "journey-prod";
const MID = "0100018d2f1c9a7e-3c1c2b1a-1111-2222-3333-444455556666-000000";

const mail = (over: Partial<SesMail> = {}): SesMail => ({
  messageId: MID,
  sentAt: new Date("2026-03-01T10:00:00.123Z"),
  from: "News <n@news.example.com>",
  to: ["Ann@Example.com"],
  cc: ["cc@example.org"],
  bcc: ["bcc@example.net"],
  subject: "Hi",
  tags: { UserID: "12", JourneyID: "7", ActionID: "13", SubscriberID: "456", EntryID: "01JH0000000000000000000000" },
  configurationSet: SET,
  ...over,
});

const at = new Date("2026-03-02T08:30:15.999Z");
const map = (e: SesEventDetailInput, m: SesMail = mail()) => mapSesEvent(JSON.parse(JSON.stringify(sesEvent(m, { at, ...e }))), SET);
const ingest = (r: SesMapping) => {
  expect(r.kind, JSON.stringify(r)).toBe("ingest");
  return (r as Extract<SesMapping, { kind: "ingest" }>).event;
};
const ids = { JourneyID: 7, ActionID: 13, SubscriberID: 456, EmailAddress: "Ann@Example.com" };

describe("SES events into ingest events (ENGINE §8.3)", () => {
  it("Send → Sent, ses:<MessageId>:Send, at mail.timestamp, with the tags' IDs and the one To address", () => {
    const r = map({ type: "Send" });
    expect(r).toMatchObject({ kind: "ingest", type: "Send", userId: 12, messageId: MID });
    expect(ingest(r)).toEqual({ EventID: `ses:${MID}:Send`, Type: "Sent", ...ids, OccurredAt: "2026-03-01 10:00:00" });
    // The runner sends its own Sent under the same EventID (§8.2), so the two count once.
    expect(ingest(r).EventID).toBe(sesEventId(MID, "Send"));
  });

  it("Delivery → Delivered, ses:<MessageId>:Delivery, at the delivery's own timestamp", () => {
    expect(ingest(map({ type: "Delivery" }))).toEqual({ EventID: `ses:${MID}:Delivery`, Type: "Delivered", ...ids, OccurredAt: "2026-03-02 08:30:15" });
  });

  it("Open → Opened, ses:<MessageId>:Open; a later open maps to the same EventID (a duplicate)", () => {
    const first = ingest(map({ type: "Open" }));
    expect(first).toEqual({ EventID: `ses:${MID}:Open`, Type: "Opened", ...ids, OccurredAt: "2026-03-02 08:30:15" });
    const later = ingest(mapSesEvent(sesEvent(mail(), { type: "Open", at: new Date("2026-03-09T00:00:00Z") }), SET));
    expect(later.EventID).toBe(first.EventID);
  });

  it("Click → Clicked, ses:<MessageId>:Click:<first 16 hex of SHA-256(link)>, one EventID per link", () => {
    const link = "https://shop.example.com/p?id=1&utm_source=x";
    const expectedHash = createHash("sha256").update(link).digest("hex").slice(0, 16);
    const e = ingest(map({ type: "Click", link }));
    expect(e).toEqual({ EventID: `ses:${MID}:Click:${expectedHash}`, Type: "Clicked", ...ids, OccurredAt: "2026-03-02 08:30:15" });
    expect(e.EventID).toMatch(/^ses:.+:Click:[0-9a-f]{16}$/);
    expect(ingest(map({ type: "Click", link: "https://shop.example.com/other" })).EventID).not.toBe(e.EventID);
    expect(ingest(map({ type: "Click", link })).EventID).toBe(e.EventID);
  });

  it("Bounce → Bounced: Permanent is Hard, Transient and Undetermined are Soft; ses:<MessageId>:Bounce", () => {
    expect(ingest(map({ type: "Bounce", bounceType: "Permanent" }))).toEqual({
      EventID: `ses:${MID}:Bounce`,
      Type: "Bounced",
      ...ids,
      OccurredAt: "2026-03-02 08:30:15",
      BounceType: "Hard",
    });
    expect(ingest(map({ type: "Bounce", bounceType: "Transient" })).BounceType).toBe("Soft");
    expect(ingest(map({ type: "Bounce", bounceType: "Undetermined" })).BounceType).toBe("Soft");
  });

  it("Complaint → SpamComplaint, ses:<MessageId>:Complaint", () => {
    expect(ingest(map({ type: "Complaint" }))).toEqual({ EventID: `ses:${MID}:Complaint`, Type: "SpamComplaint", ...ids, OccurredAt: "2026-03-02 08:30:15" });
  });

  it.each(["Reject", "RenderingFailure"] as const)("%s → no ingest event, a Failed mark for the (action, subscriber)", (type) => {
    const r = map({ type });
    expect(r).toEqual({
      kind: "failed",
      type,
      messageId: MID,
      tags: { UserID: 12, JourneyID: 7, ActionID: 13, SubscriberID: 456 },
      emailAddress: "Ann@Example.com",
      // Neither kind carries a time of its own; SES's mail.timestamp stands in.
      occurredAt: "2026-03-01 10:00:00",
    });
  });

  it("reads SES's own spelling of a rendering failure ('Rendering Failure')", () => {
    const raw = sesEvent(mail(), { type: "RenderingFailure", at });
    expect((raw.detail as { eventType: string }).eventType).toBe("Rendering Failure");
    expect(raw["detail-type"]).toBe("Email Rendering Failed");
    expect(mapSesEvent(raw, SET)).toMatchObject({ kind: "failed", type: "RenderingFailure" });
  });

  it("maps a redelivered event (the same EventBridge event again) to the same ingest event", () => {
    for (const type of ["Send", "Delivery", "Open", "Bounce", "Complaint"] as const) {
      const raw = sesEvent(mail(), { type, at });
      expect(mapSesEvent(JSON.parse(JSON.stringify(raw)), SET), type).toEqual(mapSesEvent(raw, SET));
    }
    const click = sesEvent(mail(), { type: "Click", at, link: "https://x.example/a" });
    expect(mapSesEvent(structuredClone(click), SET)).toEqual(mapSesEvent(click, SET));
  });
});

describe("the recipient rule", () => {
  it.each(["Delivery", "Bounce", "Complaint"] as const)("drops a %s for a CC or BCC recipient only, and counts it as NotRecipient", (type) => {
    for (const r of ["cc@example.org", "bcc@example.net"]) {
      expect(map({ type, recipients: [r] }), `${type} ${r}`).toEqual({ kind: "dropped", type, messageId: MID, reason: "NotRecipient" });
    }
  });

  it.each(["Delivery", "Bounce", "Complaint"] as const)("maps a %s whose recipients include the To address, case-insensitively", (type) => {
    expect(ingest(map({ type, recipients: ["cc@example.org", "ann@example.COM"] })).SubscriberID).toBe(456);
  });

  it("maps Open and Click, which name no recipient, as the subscriber's even when a CC opened (§13.14)", () => {
    expect(ingest(map({ type: "Open" })).EmailAddress).toBe("Ann@Example.com");
    expect(ingest(map({ type: "Click", link: "https://x.example" })).EmailAddress).toBe("Ann@Example.com");
  });

  it("takes the address out of a To written with a display name", () => {
    const r = map({ type: "Delivery", recipients: ["ann@example.com"] }, mail({ to: ["Ann Smith <ann@example.com>"] }));
    expect(ingest(r).EmailAddress).toBe("ann@example.com");
  });

  it("drops an event whose To is not exactly one address", () => {
    expect(map({ type: "Open" }, mail({ to: ["a@example.com", "b@example.com"] }))).toMatchObject({ kind: "dropped", reason: "NoToAddress" });
  });
});

describe("what is dropped, and counted", () => {
  it.each(["UserID", "JourneyID", "ActionID", "SubscriberID"])("drops an event without the %s tag, or with one that is not a positive integer", (tag) => {
    const { [tag]: _gone, ...rest } = mail().tags;
    expect(map({ type: "Delivery" }, mail({ tags: rest }))).toEqual({ kind: "dropped", type: "Delivery", messageId: MID, reason: "MissingTags" });
    for (const bad of ["0", "-3", "x", "1.5", ""]) {
      expect(map({ type: "Send" }, mail({ tags: { ...mail().tags, [tag]: bad } })), `${tag}=${bad}`).toMatchObject({ kind: "dropped", reason: "MissingTags" });
    }
  });

  it("drops an event of another configuration set, or of none", () => {
    expect(map({ type: "Send" }, mail({ configurationSet: "someone-else" }))).toEqual({ kind: "dropped", type: "Send", messageId: MID, reason: "OtherConfigurationSet" });
    const raw = sesEvent(mail(), { type: "Open", at }) as unknown as { detail: { mail: { tags: Record<string, unknown> } } };
    delete raw.detail.mail.tags["ses:configuration-set"];
    expect(mapSesEvent(raw, SET)).toMatchObject({ kind: "dropped", reason: "OtherConfigurationSet" });
  });

  it("drops kinds it does not map, and anything that is not an SES event", () => {
    const delayed = sesEvent(mail(), { type: "Send" }) as { detail: Record<string, unknown> };
    delayed.detail["eventType"] = "DeliveryDelay";
    expect(mapSesEvent(delayed, SET)).toEqual({ kind: "dropped", type: "Unknown", messageId: MID, reason: "UnknownType" });
    for (const bad of [undefined, null, "text", [], {}, { source: "aws.ses" }, { source: "aws.s3", detail: sesEvent(mail(), { type: "Send" }).detail }]) {
      expect(mapSesEvent(bad, SET), JSON.stringify(bad)).toMatchObject({ kind: "dropped", reason: expect.stringMatching(/Malformed|UnknownType/) });
    }
    const noId = sesEvent(mail(), { type: "Send" }) as unknown as { detail: { mail: Record<string, unknown> } };
    delete noId.detail.mail["messageId"];
    expect(mapSesEvent(noId, SET)).toEqual({ kind: "dropped", type: "Send", reason: "Malformed" });
  });
});

describe("an event written out as SES publishes it (not built by our own builder)", () => {
  it("maps a Bounce with SES's fields", () => {
    const raw = {
      version: "0",
      id: "5e2bd1a4-0000-0000-0000-000000000000",
      "detail-type": "Email Bounced",
      source: "aws.ses",
      account: "123456789012",
      time: "2026-03-02T08:31:00Z",
      region: "eu-west-1",
      resources: ["arn:aws:ses:eu-west-1:123456789012:configuration-set/journey-prod"],
      detail: {
        eventType: "Bounce",
        bounce: {
          feedbackId: "0102-bounce",
          bounceType: "Permanent",
          bounceSubType: "General",
          bouncedRecipients: [{ emailAddress: "ann@example.com", action: "failed", status: "5.1.1", diagnosticCode: "smtp; 550 5.1.1 user unknown" }],
          timestamp: "2026-03-02T08:30:59.412Z",
          reportingMTA: "dsn; a1-2.smtp-out.eu-west-1.amazonses.com",
        },
        mail: {
          timestamp: "2026-03-02T08:30:58.100Z",
          source: "n@news.example.com",
          sendingAccountId: "123456789012",
          messageId: "0102abc",
          destination: ["ann@example.com"],
          headersTruncated: false,
          commonHeaders: { from: ["News <n@news.example.com>"], to: ["ann@example.com"], messageId: "0102abc", subject: "Hi" },
          tags: {
            "ses:configuration-set": ["journey-prod"],
            "ses:source-ip": ["203.0.113.9"],
            UserID: ["3"],
            JourneyID: ["4"],
            ActionID: ["5"],
            SubscriberID: ["6"],
            EntryID: ["01JH0000000000000000000000"],
          },
        },
      },
    };
    expect(mapSesEvent(raw, SET)).toEqual({
      kind: "ingest",
      type: "Bounce",
      messageId: "0102abc",
      userId: 3,
      event: { EventID: "ses:0102abc:Bounce", Type: "Bounced", JourneyID: 4, ActionID: 5, SubscriberID: 6, EmailAddress: "ann@example.com", OccurredAt: "2026-03-02 08:30:59", BounceType: "Hard" },
    });
  });
});

describe("the local sender's SES events (ENGINE §9)", () => {
  const kinds = (m: SesMail) => eventsAfterSend(m, at).map((e) => `${e["detail-type"]}`);
  it("publishes Send then Delivery, with the To as the delivery's recipient and To, CC and BCC as mail.destination", () => {
    const events = eventsAfterSend(mail(), at);
    expect(events.map((e) => e["detail-type"])).toEqual(["Email Sent", "Email Delivered"]);
    const detail = events[1]!.detail as { mail: { destination: string[]; commonHeaders: { to: string[] } }; delivery: { recipients: string[] } };
    expect(detail.mail.destination).toEqual(["Ann@Example.com", "cc@example.org", "bcc@example.net"]);
    expect(detail.mail.commonHeaders.to).toEqual(["Ann@Example.com"]);
    expect(detail.delivery.recipients).toEqual(["Ann@Example.com"]);
    expect(events.map((e) => ingest(mapSesEvent(e, SET)).Type)).toEqual(["Sent", "Delivered"]);
  });

  it("acts on SES's simulator addresses: bounce and suppressionlist bounce (no delivery), complaint delivers and complains", () => {
    expect(kinds(mail({ to: ["bounce@simulator.amazonses.com"] }))).toEqual(["Email Sent", "Email Bounced"]);
    expect(kinds(mail({ to: ["suppressionlist@simulator.amazonses.com"] }))).toEqual(["Email Sent", "Email Bounced"]);
    expect(kinds(mail({ to: ["complaint+x@simulator.amazonses.com"] }))).toEqual(["Email Sent", "Email Delivered", "Email Complaint Received"]);
    expect(simulatorOutcome("success@simulator.amazonses.com")).toBe("deliver");
    const bounce = eventsAfterSend(mail({ to: ["bounce@simulator.amazonses.com"] }), at)[1]!;
    expect(ingest(mapSesEvent(bounce, SET))).toMatchObject({ Type: "Bounced", BounceType: "Hard", EmailAddress: "bounce@simulator.amazonses.com" });
  });
});
