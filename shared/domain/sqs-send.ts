import { loadConfig } from "../config.js";
import { envCredentials, signRequest } from "../aws-sign.js";

/**
 * SQS SendMessage over SQS's JSON protocol, signed by the SDK's signer (shared/aws-sign.ts).
 * Only the export-submit path sends messages from an API function; bundling the
 * SQS client there (and in /api.php) would cost about 33 KB and push the
 * dispatcher past 1.3× the DynamoDB-client floor.
 */
export async function sendMessage(queueUrl: string, body: string, opts: { delaySeconds?: number } = {}): Promise<string> {
  const cfg = loadConfig();
  const url = new URL(cfg.SQS_ENDPOINT ? `${cfg.SQS_ENDPOINT.replace(/\/$/, "")}/` : `${new URL(queueUrl).origin}/`);
  const delay = opts.delaySeconds ? Math.min(900, Math.max(0, Math.ceil(opts.delaySeconds))) : 0;
  const payload = JSON.stringify({ QueueUrl: queueUrl, MessageBody: body, ...(delay > 0 ? { DelaySeconds: delay } : {}) });
  const headers = await signRequest({
    method: "POST",
    url,
    headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": "AmazonSQS.SendMessage" },
    body: payload,
    service: "sqs",
    region: cfg.AWS_REGION,
    credentials: envCredentials(),
  });
  const res = await fetch(url, { method: "POST", headers, body: payload, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`SQS SendMessage failed: HTTP ${res.status} ${text.slice(0, 200)}`);
  const messageId = (JSON.parse(text) as { MessageId?: string }).MessageId;
  if (!messageId) throw new Error("SQS SendMessage answered without a MessageId");
  return messageId;
}
