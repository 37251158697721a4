import { createHash, createHmac } from "node:crypto";

/**
 * A SigV4 presigned GET URL for S3, hand-rolled so the API functions do not
 * bundle the S3 client (it would put them at 1.4× the DynamoDB-client floor).
 * A test checks it against @aws-sdk/s3-request-presigner for the same inputs.
 */
export interface PresignInput {
  bucket: string;
  key: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Path-style endpoint (emulators); absent = virtual-hosted AWS endpoint. */
  endpoint?: string;
  expiresSeconds: number;
  now?: Date;
  /** Extra query parameters to sign, e.g. S3's response-content-type overrides. */
  query?: Record<string, string>;
}

const hex = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();

/** RFC 3986 encoding, as SigV4 requires (encodeURIComponent leaves !'()* alone). */
const encode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function presignGetUrl(input: PresignInput): string {
  const now = input.now ?? new Date();
  const amzDate = now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const base = input.endpoint
    ? new URL(`${input.endpoint.replace(/\/$/, "")}/${input.bucket}`)
    : new URL(`https://${input.bucket}.s3.${input.region}.amazonaws.com`);
  const path = `${base.pathname.replace(/\/$/, "")}/${input.key.split("/").map(encode).join("/")}`;
  const scope = `${day}/${input.region}/s3/aws4_request`;
  const query: Record<string, string> = {
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD",
    "X-Amz-Credential": `${input.credentials.accessKeyId}/${scope}`,
    "X-Amz-Date": amzDate,
    "X-Amz-Expires": String(input.expiresSeconds),
    ...(input.credentials.sessionToken ? { "X-Amz-Security-Token": input.credentials.sessionToken } : {}),
    "X-Amz-SignedHeaders": "host",
    ...(input.query ?? {}),
  };
  const canonicalQuery = Object.keys(query)
    .sort()
    .map((k) => `${encode(k)}=${encode(query[k]!)}`)
    .join("&");
  const canonicalRequest = ["GET", path, canonicalQuery, `host:${base.host}\n`, "host", "UNSIGNED-PAYLOAD"].join("\n");
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, hex(canonicalRequest)].join("\n");
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${input.credentials.secretAccessKey}`, day), input.region), "s3"), "aws4_request");
  const signature = createHmac("sha256", signingKey).update(toSign).digest("hex");
  return `${base.protocol}//${base.host}${path}?${canonicalQuery}&X-Amz-Signature=${signature}`;
}
