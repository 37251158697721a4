import { Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type { Construct } from "constructs";
import {
  SMS_CONFIGURATION_SET_ARN,
  SMS_IDENTITY_ARN,
  smsOriginationIdentities,
  validateSmsGateways,
  type SmsGateways,
} from "../shared/delivery/sms-gateways.js";

/**
 * SendSMS's configuration and grant (ENGINE §8.5, §10), from stack context:
 * - `smsGateways`: the gateways, as an object (cdk.json) or a JSON string
 *   (`cdk deploy -c smsGateways='{...}'`) → `SMS_GATEWAYS` on the runner;
 * - `smsConfigurationSet`: a configuration set name or ARN → `SMS_CONFIGURATION_SET`.
 *
 * The runner may call `sms-voice:SendTextMessage` on exactly the identities listed and
 * the configuration set, and on nothing else. So every identity must be an ARN: a phone
 * number's ARN names its phone-number ID (`phone-…`), not the number, and only the
 * account knows that ID, so the stack cannot build it and refuses a bare number at synth
 * time with a message saying where to find the ARN. A configuration set's ARN, by
 * contrast, is built from its name in this stack's account and region.
 */
export interface SmsSettings {
  gateways: SmsGateways;
  /** As given (name or ARN); what the runner passes as ConfigurationSetName. */
  configurationSet?: string;
}

const CONFIGURATION_SET_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The SMS context, validated; undefined when neither key is set. Throws on anything the grant could not name. */
export function smsSettings(scope: Construct): SmsSettings | undefined {
  const rawGateways: unknown = scope.node.tryGetContext("smsGateways");
  const rawSet: unknown = scope.node.tryGetContext("smsConfigurationSet");
  if ((rawGateways === undefined || rawGateways === "") && (rawSet === undefined || rawSet === "")) return undefined;

  let decoded: unknown = rawGateways ?? {};
  if (typeof decoded === "string") {
    try {
      decoded = decoded.trim() === "" ? {} : JSON.parse(decoded);
    } catch (err) {
      throw new Error(`Invalid smsGateways context: not JSON (${(err as Error).message})`);
    }
  }
  const gateways = validateSmsGateways(decoded, "smsGateways context");
  for (const [id, g] of Object.entries(gateways)) {
    const named: [string, string][] = [[`"${id}".OriginationIdentity`, g.OriginationIdentity], ...Object.entries(g.SenderIds).map(([s, arn]): [string, string] => [`"${id}".SenderIds["${s}"]`, arn])];
    for (const [path, identity] of named) {
      if (!SMS_IDENTITY_ARN.test(identity)) {
        throw new Error(
          `Invalid smsGateways context: ${path} is "${identity}", not an End User Messaging SMS ARN ` +
            "(arn:aws:sms-voice:<region>:<account>:phone-number/<phone-number ID>, …:pool/<pool ID> or …:sender-id/<sender ID>/<country>). " +
            "The runner is granted SendTextMessage on each listed ARN only, and a phone number's ARN carries its ID, not the number: " +
            "`aws pinpoint-sms-voice-v2 describe-phone-numbers` lists PhoneNumberArn (docs/operations.md, \"SMS gateways\").",
        );
      }
    }
  }

  let configurationSet: string | undefined;
  if (rawSet !== undefined && rawSet !== "") {
    if (typeof rawSet !== "string" || !(SMS_CONFIGURATION_SET_ARN.test(rawSet) || CONFIGURATION_SET_NAME.test(rawSet))) {
      throw new Error(`Invalid smsConfigurationSet context: "${String(rawSet)}" is neither a configuration set name ([A-Za-z0-9_-], ≤ 64) nor its ARN`);
    }
    configurationSet = rawSet;
  }
  return { gateways, ...(configurationSet ? { configurationSet } : {}) };
}

/**
 * Gives the runner its SMS settings and the grant they need. Without context it adds
 * nothing: no gateway means every SendSMS is NotConfigured or GatewayUnknown, and no call is
 * made. The environment carries the canonical JSON, which the runner parses again at load.
 */
export function configureSms(scope: Construct, fn: lambda.Function): SmsSettings | undefined {
  const settings = smsSettings(scope);
  if (!settings) return undefined;
  const identities = smsOriginationIdentities(settings.gateways);
  if (identities.length > 0) fn.addEnvironment("SMS_GATEWAYS", JSON.stringify(settings.gateways));
  if (settings.configurationSet) fn.addEnvironment("SMS_CONFIGURATION_SET", settings.configurationSet);
  if (identities.length === 0) return settings;

  const resources = [...identities];
  if (settings.configurationSet) {
    resources.push(
      SMS_CONFIGURATION_SET_ARN.test(settings.configurationSet)
        ? settings.configurationSet
        : Stack.of(scope).formatArn({ service: "sms-voice", resource: "configuration-set", resourceName: settings.configurationSet }),
    );
  }
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ["sms-voice:SendTextMessage"], resources }));
  return settings;
}
