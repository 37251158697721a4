import http from "node:http";
import https from "node:https";
import { escapeUriPath } from "@smithy/core/protocols";
import { envCredentials, signRequest, type Credentials } from "./aws-sign.js";

/**
 * Streams a body into one S3 object with the S3 REST calls an upload needs
 * (PutObject, or CreateMultipartUpload, UploadPart, CompleteMultipartUpload, and
 * AbortMultipartUpload on failure), signed by the SDK's own SigV4 signer
 * (shared/aws-sign.ts). The S3 client and @aws-sdk/lib-storage would add about
 * 200 KB to the export worker, its only user, for these calls (docs/architecture.md).
 *
 * Parts are `partSize` bytes, at most two in flight, so memory is bounded whatever
 * the object's size. Each call is retried on 5xx, 429 and connection faults, up to
 * 3 attempts with jittered back-off, as the SDK's standard retry mode does.
 */
export interface S3Target {
  bucket: string;
  key: string;
  region: string;
  /** Path-style endpoint (emulators); absent = the virtual-hosted AWS endpoint. */
  endpoint?: string;
  credentials?: Credentials;
}

export interface UploadInput extends S3Target {
  body: AsyncIterable<Uint8Array>;
  contentType: string;
  contentDisposition: string;
  /** At least 5 MB: S3's floor for every part but the last. */
  partSize: number;
}

/** The S3 operations this module makes, named as S3 names them. */
export type S3Operation = "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" | "AbortMultipartUpload";

/**
 * Called once before each operation (before its retries): the test suite's way to
 * inject S3 faults, as it would with SDK middleware. Unset in production.
 */
export const s3Faults: { before?: (operation: S3Operation) => void } = {};

const MAX_ATTEMPTS = 3;
const PARTS_IN_FLIGHT = 2;
/** Room past partSize for the chunk that crosses it, so a part is never copied to grow. */
const PART_SLACK = 1024 * 1024;

class S3Error extends Error {
  constructor(
    readonly operation: S3Operation,
    readonly status: number,
    detail: string,
  ) {
    super(`S3 ${operation} failed: ${status} ${detail}`.trim());
    this.name = "S3Error";
  }
}

const retryable = (status: number) => status === 429 || status >= 500;

/**
 * One HTTP exchange with node:http(s), read whole. Not fetch: with fetch the
 * 10,000-journey export peaked 20–30 MB higher (bench/export.ts), past the
 * function's 256 MB.
 */
function send(url: URL, method: string, headers: Record<string, string>, body: Uint8Array | string) {
  const payload = typeof body === "string" ? Buffer.from(body) : body;
  return new Promise<{ ok: boolean; status: number; etag?: string; text: string }>((resolve, reject) => {
    const req = (url.protocol === "https:" ? https : http).request(
      url,
      { method, headers: { ...headers, "content-length": String(payload.length) }, agent: url.protocol === "https:" ? httpsAgent : httpAgent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          const etag = res.headers["etag"];
          resolve({ ok: status >= 200 && status < 300, status, ...(typeof etag === "string" ? { etag } : {}), text: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", reject);
      },
    );
    req.setTimeout(60_000, () => req.destroy(new Error("S3 request timed out")));
    req.on("error", reject);
    req.end(payload);
  });
}
const httpAgent = new http.Agent({ keepAlive: true });
const httpsAgent = new https.Agent({ keepAlive: true });

async function call(
  target: S3Target,
  operation: S3Operation,
  method: string,
  query: Record<string, string>,
  headers: Record<string, string>,
  body: Uint8Array | string = "",
): Promise<string> {
  s3Faults.before?.(operation);
  const base = target.endpoint
    ? `${target.endpoint.replace(/\/$/, "")}/${target.bucket}`
    : `https://${target.bucket}.s3.${target.region}.amazonaws.com`;
  const url = new URL(`${base}/${escapeUriPath(target.key)}`);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  for (let attempt = 1; ; attempt++) {
    let error: unknown;
    let retry = true;
    try {
      const signed = await signRequest({
        method,
        url,
        // Over TLS S3 takes an unsigned payload, which spares hashing every 5 MB part.
        headers: { ...headers, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
        body,
        service: "s3",
        region: target.region,
        credentials: target.credentials ?? envCredentials(),
        uriEscapePath: false,
      });
      const res = await send(url, method, signed, body);
      const text = res.text;
      // CompleteMultipartUpload can answer 200 with an error in the body; S3 asks for a retry then.
      if (res.ok && !(operation === "CompleteMultipartUpload" && /<Error>/.test(text))) {
        return operation === "UploadPart" ? (res.etag ?? "") : text;
      }
      error = new S3Error(operation, res.status, (/<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? "").slice(0, 100));
      retry = res.ok || retryable(res.status);
    } catch (err) {
      // A connection fault: the request may or may not have landed, and each call is idempotent.
      error = err;
    }
    if (!retry || attempt >= MAX_ATTEMPTS) throw error;
    await new Promise((r) => setTimeout(r, Math.random() * 100 * 2 ** attempt));
  }
}

/** Uploads the stream; on any failure no object is left (the multipart upload is aborted). */
export async function uploadStream(input: UploadInput): Promise<void> {
  const objectHeaders = { "content-type": input.contentType, "content-disposition": input.contentDisposition };
  // The part being filled: chunks are copied into one buffer, so a part costs its
  // size once (no list of small buffers, no concatenated copy).
  let part = Buffer.allocUnsafe(input.partSize + PART_SLACK);
  let size = 0;
  const take = (): Buffer => {
    const full = part.subarray(0, size);
    part = Buffer.allocUnsafe(input.partSize + PART_SLACK);
    size = 0;
    return full;
  };
  const append = (chunk: Uint8Array) => {
    if (size + chunk.length > part.length) {
      // Only a chunk longer than the slack grows a part (a part may exceed partSize).
      const bigger = Buffer.allocUnsafe(size + chunk.length);
      part.copy(bigger, 0, 0, size);
      part = bigger;
    }
    part.set(chunk, size);
    size += chunk.length;
  };

  let uploadId: string | undefined;
  const parts: Promise<string>[] = [];
  const inFlight = new Set<Promise<string>>();
  const sendPart = (n: number, data: Buffer) => call(input, "UploadPart", "PUT", { partNumber: String(n), uploadId: uploadId! }, {}, data);
  try {
    for await (const chunk of input.body) {
      append(chunk);
      if (size < input.partSize) continue;
      if (!uploadId) {
        const created = await call(input, "CreateMultipartUpload", "POST", { uploads: "" }, objectHeaders);
        uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created)?.[1];
        if (!uploadId) throw new S3Error("CreateMultipartUpload", 200, "no UploadId");
      }
      // A bounded number of parts in flight: wait for one before filling the next.
      if (inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(inFlight);
      const etag = sendPart(parts.length + 1, take());
      inFlight.add(etag);
      void etag.finally(() => inFlight.delete(etag)).catch(() => undefined);
      parts.push(etag);
    }
    if (!uploadId) {
      await call(input, "PutObject", "PUT", {}, objectHeaders, take());
      return;
    }
    if (size > 0) parts.push(sendPart(parts.length + 1, take()));
    const etags = await Promise.all(parts);
    const xml =
      "<CompleteMultipartUpload>" +
      etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</ETag></Part>`).join("") +
      "</CompleteMultipartUpload>";
    await call(input, "CompleteMultipartUpload", "POST", { uploadId }, { "content-type": "application/xml" }, xml);
  } catch (err) {
    if (uploadId) {
      await Promise.allSettled(parts);
      await call(input, "AbortMultipartUpload", "DELETE", { uploadId }, {}).catch(() => undefined);
    }
    throw err;
  }
}
