import { loadConfig } from "../config.js";
import { signRequest } from "./sigv4.js";

/**
 * SQS SendMessage over SQS's JSON protocol, signed with shared/domain/sigv4.ts.
 * Only the export-submit path sends messages from an API function; bundling the
 * SQS client there (and in /api.php) would cost about 33 KB and push the
 * dispatcher past 1.3× the DynamoDB-client floor.
 */
export async function sendMessage(queueUrl: string, body: string): Promise<string> {
  const cfg = loadConfig();
  const env = process.env;
  const url = new URL(cfg.SQS_ENDPOINT ? `${cfg.SQS_ENDPOINT.replace(/\/$/, "")}/` : `${new URL(queueUrl).origin}/`);
  const payload = JSON.stringify({ QueueUrl: queueUrl, MessageBody: body });
  const headers = signRequest({
    method: "POST",
    url,
    headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": "AmazonSQS.SendMessage" },
    body: payload,
    service: "sqs",
    region: cfg.AWS_REGION,
    credentials: {
      accessKeyId: env["AWS_ACCESS_KEY_ID"] ?? "local",
      secretAccessKey: env["AWS_SECRET_ACCESS_KEY"] ?? "local",
      ...(env["AWS_SESSION_TOKEN"] ? { sessionToken: env["AWS_SESSION_TOKEN"] } : {}),
    },
  });
  const res = await fetch(url, { method: "POST", headers, body: payload, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`SQS SendMessage failed: HTTP ${res.status} ${text.slice(0, 200)}`);
  const messageId = (JSON.parse(text) as { MessageId?: string }).MessageId;
  if (!messageId) throw new Error("SQS SendMessage answered without a MessageId");
  return messageId;
}
