/**
 * The SMS gateways' configuration (ENGINE §8.5, §10): `SMS_GATEWAYS` on the runner,
 * stack context `smsGateways` in CDK. Pure, with no I/O and no environment read, so that
 * the CDK app (which validates the context and builds the IAM grant from it) and the
 * runtime (shared/delivery/sms.ts) check one shape the same way.
 *
 * ```json
 * {"0": {"OriginationIdentity": "arn:aws:sms-voice:eu-west-1:111122223333:pool/pool-…",
 *        "SenderIds": {"ACME": "arn:aws:sms-voice:eu-west-1:111122223333:sender-id/ACME/GB"},
 *        "Users": [12, 14]}}
 * ```
 * Keys are gateway IDs (the action's `gateway_id`; `"0"` is the default gateway, §13.12).
 * No `Users` means every user, as `SENDER_DOMAINS` does (§8.1).
 */
export interface SmsGateway {
  /** A phone number, pool or sender ID: E.164, an ID or an ARN at runtime; an ARN on AWS (see SMS_IDENTITY_ARN). */
  OriginationIdentity: string;
  /** The action's `sender_id` → the origination identity (ARN) used instead of the gateway's own. */
  SenderIds: Record<string, string>;
  /** UserIDs allowed to use this gateway; absent means every user. */
  Users?: number[];
}

export type SmsGateways = Record<string, SmsGateway>;

/**
 * An origination identity the IAM grant can name: a phone number, pool or sender ID
 * ARN of End User Messaging SMS (`sms-voice`), in any partition. A bare phone number
 * cannot be granted on: its ARN carries the phone number's ID (`phone-…`), which
 * only the account knows, so the stack refuses it (docs/operations.md).
 */
export const SMS_IDENTITY_ARN = /^arn:aws(?:-[a-z]+)*:sms-voice:[a-z0-9-]+:\d{12}:(?:phone-number|pool|sender-id)\/[A-Za-z0-9_/-]+$/;

/** A configuration set ARN (`SMS_CONFIGURATION_SET` may also be a bare name). */
export const SMS_CONFIGURATION_SET_ARN = /^arn:aws(?:-[a-z]+)*:sms-voice:[a-z0-9-]+:\d{12}:configuration-set\/[A-Za-z0-9_-]+$/;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === "string" && v.trim() !== "";

/**
 * Checks a decoded configuration and returns it in canonical form (Users as numbers,
 * no unknown keys). Throws an Error naming `source` and the first bad path: a
 * misconfigured gateway must fail the deploy or the cold start, not a send.
 */
export function validateSmsGateways(value: unknown, source = "SMS_GATEWAYS"): SmsGateways {
  const bad = (path: string, why: string): never => {
    throw new Error(`Invalid ${source}: ${path} ${why}`);
  };
  if (!isPlainObject(value)) return bad("(root)", 'must be an object of gateways, {"<gateway_id>": {...}}');
  const out: SmsGateways = {};
  for (const [id, raw] of Object.entries(value)) {
    if (!/^(0|[1-9]\d{0,15})$/.test(id)) bad(`"${id}"`, "is not a gateway ID (a non-negative integer)");
    if (!isPlainObject(raw)) return bad(`"${id}"`, "must be an object");
    for (const k of Object.keys(raw)) {
      if (!["OriginationIdentity", "SenderIds", "Users"].includes(k)) bad(`"${id}".${k}`, "is not a gateway setting (OriginationIdentity, SenderIds, Users)");
    }
    const origination = raw["OriginationIdentity"];
    if (!nonEmpty(origination)) bad(`"${id}".OriginationIdentity`, "must be a non-empty string");
    const senderIds: Record<string, string> = {};
    const rawSenders = raw["SenderIds"] ?? {};
    if (!isPlainObject(rawSenders)) bad(`"${id}".SenderIds`, 'must be an object {"<sender_id>": "<ARN>"}');
    for (const [sender, identity] of Object.entries(rawSenders as Record<string, unknown>)) {
      if (sender.trim() === "") bad(`"${id}".SenderIds`, "has an empty sender_id");
      if (!nonEmpty(identity)) bad(`"${id}".SenderIds["${sender}"]`, "must be a non-empty string");
      senderIds[sender] = (identity as string).trim();
    }
    const gateway: SmsGateway = { OriginationIdentity: (origination as string).trim(), SenderIds: senderIds };
    const users = raw["Users"];
    if (users !== undefined) {
      if (!Array.isArray(users)) bad(`"${id}".Users`, "must be an array of UserIDs");
      gateway.Users = (users as unknown[]).map((u, i) => {
        const n = typeof u === "string" && /^\d+$/.test(u) ? Number(u) : u;
        if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1) bad(`"${id}".Users[${i}]`, "must be a positive integer UserID");
        return n as number;
      });
    }
    out[id] = gateway;
  }
  return out;
}

/** `SMS_GATEWAYS` as the environment holds it (JSON); unset or empty means no gateway. */
export function parseSmsGateways(raw: string | undefined, source = "SMS_GATEWAYS"): SmsGateways {
  if (raw === undefined || raw.trim() === "") return {};
  let decoded: unknown;
  try {
    decoded = JSON.parse(raw);
  } catch (err) {
    throw new Error(`Invalid ${source}: not JSON (${(err as Error).message})`);
  }
  return validateSmsGateways(decoded, source);
}

/** Every origination identity a configuration can send from (each gateway's own and its sender IDs'), once each. */
export function smsOriginationIdentities(gateways: SmsGateways): string[] {
  const all = Object.values(gateways).flatMap((g) => [g.OriginationIdentity, ...Object.values(g.SenderIds)]);
  return [...new Set(all)];
}
