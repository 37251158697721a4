import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import type { Item } from "../domain/owned.js";
import { formatDateTime } from "../time.js";
import { guardSettings, vetHost, type GuardSettings } from "./ssrf.js";

/**
 * The Webhook action's delivery (ENGINE §8.6): one HTTPS POST of a fixed JSON body,
 * through the SSRF guard, with at most three attempts. The runner writes its intent
 * before calling this (§8.2), so a receiver sees one DeliveryID twice only through
 * this function's own retries; receivers dedupe on `X-Journey-Delivery`.
 */

export const WEBHOOK_ATTEMPT_TIMEOUT_MS = 5000;
/** The waits before the second and third attempts; each is jittered by ±20 %. */
export const WEBHOOK_BACKOFF_MS: readonly number[] = [1000, 3000];
export const WEBHOOK_MAX_ATTEMPTS = 3;
/** At most this much of an answer's body is read (and discarded) before the connection is dropped. */
export const WEBHOOK_BODY_LIMIT = 64 * 1024;
export const WEBHOOK_USER_AGENT = "JourneyAPI-Webhook/1";

export type WebhookReason = "Delivered" | "SchemeRefused" | "SsrfRefused" | "HttpError" | "Timeout" | "ConnectError" | "TlsError";

export interface WebhookResult {
  outcome: "Done" | "Failed";
  /** `Delivered` when Done; otherwise why it failed. */
  reason: WebhookReason;
  detail: {
    /** The last answer's HTTP status, when there was one. */
    Status?: number;
    /** Attempts that were made (0 when the URL was refused before any). */
    Attempts: number;
    /** Wall time of the whole delivery, backoffs included. */
    Ms: number;
    /** The address connected to; for SsrfRefused, the refused one. */
    Address?: string;
    /** What went wrong, for Timeout, ConnectError, TlsError and SchemeRefused. */
    Error?: string;
  };
}

export interface WebhookOptions {
  /** Per-attempt deadline (default 5 s); tests shorten it. */
  attemptTimeoutMs?: number;
  /** Waits before attempts 2 and 3 (default 1 s, 3 s). */
  backoffMs?: readonly number[];
  /** Extra trusted CA certificates, for tests with a self-signed receiver only. Never set by the runner. */
  ca?: string | Buffer;
  /** The guard's settings; read from the environment at each call when absent. */
  settings?: GuardSettings;
}

// ---- The body ----

export interface WebhookBodyInput {
  userId: number;
  journeyId: number;
  journeyName: string;
  actionId: number;
  entryId: string;
  /** The subscriber item as shared/domain/subscribers/subscribers.ts stores it. */
  subscriber: Item;
  occurredAt: Date;
}

export interface WebhookBody {
  Event: "journey.webhook";
  DeliveryID: string;
  OccurredAt: string;
  UserID: number;
  JourneyID: number;
  JourneyName: string;
  ActionID: number;
  EntryID: string;
  Subscriber: {
    SubscriberID: number;
    ListID: number;
    EmailAddress: string;
    SubscriptionStatus: string;
    PhoneNumber: string;
    CustomFields: Record<string, string>;
    Tags: number[];
  };
}

/** One delivery per (enrolment, action): a Webhook action runs once per EntryID. */
export const webhookDeliveryId = (entryId: string, actionId: number): string => `${entryId}:${actionId}`;

/** §8.6's body, keys in the documented order. */
export function webhookBody(input: WebhookBodyInput): WebhookBody {
  const s = input.subscriber;
  const fields = s["CustomFields"];
  return {
    Event: "journey.webhook",
    DeliveryID: webhookDeliveryId(input.entryId, input.actionId),
    OccurredAt: formatDateTime(input.occurredAt),
    UserID: input.userId,
    JourneyID: input.journeyId,
    JourneyName: input.journeyName,
    ActionID: input.actionId,
    EntryID: input.entryId,
    Subscriber: {
      SubscriberID: Number(s["SubscriberID"]),
      ListID: Number(s["ListID"]),
      EmailAddress: String(s["EmailAddress"] ?? ""),
      SubscriptionStatus: String(s["SubscriptionStatus"] ?? ""),
      PhoneNumber: typeof s["PhoneNumber"] === "string" ? s["PhoneNumber"] : "",
      CustomFields: fields && typeof fields === "object" ? { ...(fields as Record<string, string>) } : {},
      Tags: ((s["Tags"] ?? []) as unknown[]).map(Number),
    },
  };
}

// ---- One attempt ----

type Attempt =
  | { kind: "status"; status: number; address: string }
  | { kind: "Timeout" | "ConnectError" | "TlsError"; error: string; address?: string }
  | { kind: "refused"; reason: "SchemeRefused" | "SsrfRefused"; address?: string; error?: string };

/**
 * Certificate and handshake failures. They are not retried: a bad certificate
 * stays bad a second later. A reset during the handshake is a ConnectError.
 */
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|HOSTNAME_MISMATCH|INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED|EPROTO$)/;

class AttemptTimeout extends Error {}

const errorText = (err: unknown): string => {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message}` : String(e?.message ?? err);
};

async function attempt(rawUrl: string, payload: Buffer, deliveryId: string, timeoutMs: number, settings: GuardSettings, ca?: string | Buffer): Promise<Attempt> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  try {
    // Resolution is part of the attempt and of its deadline: a retry vets again.
    const vet = await vetHost(rawUrl, { signal: deadline.signal, settings });
    if (deadline.signal.aborted) return { kind: "Timeout", error: `no answer within ${timeoutMs} ms (resolving)` };
    if (!vet.ok) {
      if (vet.reason === "ConnectError") return { kind: "ConnectError", error: vet.error };
      return { kind: "refused", reason: vet.reason, ...(vet.address ? { address: vet.address } : {}), ...(vet.error ? { error: vet.error } : {}) };
    }
    const { url, address, family, hostname } = vet;
    // host is the vetted address, so nothing resolves the name again; this lookup
    // only ever answers that address, should any code path still ask.
    const lookup: LookupFunction = (_name, opts, cb) => {
      if (opts.all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
      else cb(null, address, family);
    };
    const secure = url.protocol === "https:";
    const options: https.RequestOptions = {
      method: "POST",
      host: address,
      family,
      port: url.port ? Number(url.port) : secure ? 443 : 80,
      path: `${url.pathname}${url.search}`,
      lookup,
      agent: false,
      ...(url.username || url.password ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` } : {}),
      headers: {
        Host: url.host,
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": WEBHOOK_USER_AGENT,
        "X-Journey-Delivery": deliveryId,
        "Content-Length": payload.length,
        Connection: "close",
      },
      // SNI and the certificate check use the URL's host name (never an IP in SNI, per RFC 6066).
      ...(secure && isIP(hostname) === 0 ? { servername: hostname } : {}),
      ...(ca ? { ca } : {}),
    };
    return await new Promise<Attempt>((resolve) => {
      let settled = false;
      let status: number | undefined;
      const req = (secure ? https : http).request(options);
      const finish = (a: Attempt) => {
        if (settled) return;
        settled = true;
        deadline.signal.removeEventListener("abort", onDeadline);
        req.destroy();
        resolve(a);
      };
      const onDeadline = () => {
        // After the headers the status decides; the rest of the body is not waited for.
        if (status !== undefined) finish({ kind: "status", status, address });
        else req.destroy(new AttemptTimeout(`no answer within ${timeoutMs} ms`));
      };
      deadline.signal.addEventListener("abort", onDeadline, { once: true });
      req.on("error", (err) => {
        if (status !== undefined) return finish({ kind: "status", status, address });
        if (err instanceof AttemptTimeout) return finish({ kind: "Timeout", error: err.message, address });
        const code = (err as NodeJS.ErrnoException).code ?? "";
        finish({ kind: TLS_CODE.test(code) ? "TlsError" : "ConnectError", error: errorText(err), address });
      });
      req.on("response", (res) => {
        status = res.statusCode ?? 0;
        const done = () => finish({ kind: "status", status: status!, address });
        let read = 0;
        res.on("data", (chunk: Buffer) => {
          read += chunk.length;
          if (read >= WEBHOOK_BODY_LIMIT) done();
        });
        res.on("end", done);
        res.on("error", done);
        res.on("close", done);
      });
      req.end(payload);
    });
  } finally {
    clearTimeout(timer);
  }
}

const retryable = (a: Attempt): boolean =>
  a.kind === "Timeout" || a.kind === "ConnectError" || (a.kind === "status" && (a.status === 429 || a.status >= 500));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jitter = (ms: number) => Math.round(ms * (0.8 + Math.random() * 0.4));

/**
 * POSTs `body` as JSON to `url` (§8.6). Never throws for anything the receiver or
 * the network does; throws only on a malformed local setting (WEBHOOK_DNS_OVERRIDES).
 */
export async function postWebhook(url: string, body: unknown, deliveryId: string, opts: WebhookOptions = {}): Promise<WebhookResult> {
  const settings = opts.settings ?? guardSettings();
  const timeoutMs = opts.attemptTimeoutMs ?? WEBHOOK_ATTEMPT_TIMEOUT_MS;
  const backoff = opts.backoffMs ?? WEBHOOK_BACKOFF_MS;
  const payload = Buffer.from(JSON.stringify(body), "utf8");
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);

  let last: Attempt | undefined;
  let attempts = 0;
  while (attempts < WEBHOOK_MAX_ATTEMPTS) {
    if (attempts > 0) await sleep(jitter(backoff[attempts - 1] ?? backoff[backoff.length - 1] ?? 0));
    last = await attempt(url, payload, deliveryId, timeoutMs, settings, opts.ca);
    if (last.kind === "refused") {
      // Refused before any connection: no attempt was made, and none will be.
      const detail: WebhookResult["detail"] = { Attempts: attempts, Ms: ms() };
      if (last.address) detail.Address = last.address;
      if (last.error) detail.Error = last.error;
      return { outcome: "Failed", reason: last.reason, detail };
    }
    attempts++;
    if (!retryable(last)) break;
  }
  const a = last!;
  if (a.kind === "status") {
    const ok = a.status >= 200 && a.status < 300;
    return { outcome: ok ? "Done" : "Failed", reason: ok ? "Delivered" : "HttpError", detail: { Status: a.status, Attempts: attempts, Ms: ms(), Address: a.address } };
  }
  if (a.kind === "refused") throw new Error("unreachable");
  return { outcome: "Failed", reason: a.kind, detail: { Attempts: attempts, Ms: ms(), Error: a.error, ...(a.address ? { Address: a.address } : {}) } };
}
