import { buildQueryString, escapeUriPath } from "@smithy/core/protocols";
import { Hash } from "@smithy/core/serde";
import { SignatureV4 } from "@smithy/signature-v4";

/**
 * SigV4 through the AWS SDK's own signer (@smithy/signature-v4), for the two calls
 * the API functions make outside the DynamoDB client: presigning an export
 * download and sending an export job to SQS. The signer and the hash are already
 * in every bundle (the DynamoDB client signs with them); the S3 and SQS clients are
 * not, and would add about 200 KB and 33 KB to the exports and /api.php functions.
 */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Lambda hands the function role's credentials to the runtime in these variables. */
export function envCredentials(env: NodeJS.ProcessEnv = process.env): Credentials {
  return {
    accessKeyId: env["AWS_ACCESS_KEY_ID"] ?? "local",
    secretAccessKey: env["AWS_SECRET_ACCESS_KEY"] ?? "local",
    ...(env["AWS_SESSION_TOKEN"] ? { sessionToken: env["AWS_SESSION_TOKEN"] } : {}),
  };
}

const Sha256 = Hash.bind(null, "sha256");

function signer(service: string, region: string, credentials: Credentials, uriEscapePath = true): SignatureV4 {
  // applyChecksum false: the payload hash header is S3's business, set explicitly below.
  return new SignatureV4({ service, region, credentials, sha256: Sha256, uriEscapePath, applyChecksum: false });
}

export interface PresignInput {
  bucket: string;
  key: string;
  region: string;
  credentials: Credentials;
  /** Path-style endpoint (emulators); absent = virtual-hosted AWS endpoint. */
  endpoint?: string;
  expiresSeconds: number;
  now?: Date;
  /** Extra query parameters to sign, e.g. S3's response-content-type overrides. */
  query?: Record<string, string>;
}

/** A presigned GET URL for an S3 object, as @aws-sdk/s3-request-presigner builds it. */
export async function presignGetUrl(input: PresignInput): Promise<string> {
  const base = input.endpoint
    ? new URL(`${input.endpoint.replace(/\/$/, "")}/${input.bucket}`)
    : new URL(`https://${input.bucket}.s3.${input.region}.amazonaws.com`);
  // S3 keys are escaped once, here; S3 signs the path as sent (no second escaping).
  const path = `${base.pathname.replace(/\/$/, "")}/${escapeUriPath(input.key)}`;
  const signed = await signer("s3", input.region, input.credentials, false).presign(
    {
      method: "GET",
      protocol: base.protocol,
      hostname: base.hostname,
      ...(base.port ? { port: Number(base.port) } : {}),
      path,
      query: { ...input.query },
      // Spelled as the SDK spells it: the signer hoists it into the query as given.
      headers: { host: base.host, "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD" },
    },
    { expiresIn: input.expiresSeconds, ...(input.now ? { signingDate: input.now } : {}) },
  );
  return `${base.protocol}//${base.host}${path}?${buildQueryString(signed.query ?? {})}`;
}

export interface SignableRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string | Uint8Array;
  /** False for S3, whose keys are escaped once by the caller and signed as sent. */
  uriEscapePath?: boolean;
  service: string;
  region: string;
  credentials: Credentials;
  now?: Date;
}

/** The headers to send for a SigV4-signed request (Authorization, X-Amz-Date, the session token). */
export async function signRequest(req: SignableRequest): Promise<Record<string, string>> {
  const query: Record<string, string> = {};
  for (const [k, v] of req.url.searchParams) query[k] = v;
  const signed = await signer(req.service, req.region, req.credentials, req.uriEscapePath ?? true).sign(
    {
      method: req.method,
      protocol: req.url.protocol,
      hostname: req.url.hostname,
      ...(req.url.port ? { port: Number(req.url.port) } : {}),
      path: req.url.pathname || "/",
      query,
      headers: { ...req.headers, host: req.url.host },
      body: req.body,
    },
    req.now ? { signingDate: req.now } : {},
  );
  // fetch sets Host itself and refuses to be told.
  const { host: _host, ...headers } = signed.headers;
  return headers;
}
