import { createHash, randomUUID } from "node:crypto";
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";

/**
 * The export worker's S3 upload (shared/s3-upload.ts) against the local S3
 * emulator: a multipart upload of several parts arrives whole, a small body is one
 * PutObject, and a part that fails leaves no object behind. Faults go through the
 * module's fault hook.
 */
let s3: typeof import("../../shared/s3-upload.js");
let sign: typeof import("../../shared/aws-sign.js");
let env: Record<string, string>;

beforeAll(async () => {
  env = inject("stackEnv");
  Object.assign(process.env, env);
  s3 = await import("../../shared/s3-upload.js");
  sign = await import("../../shared/aws-sign.js");
});

afterEach(() => {
  delete s3.s3Faults.before;
});

const MB = 1024 * 1024;

/** `total` bytes of varied content, in 100 KB chunks, and its digest. */
function content(total: number) {
  const hash = createHash("sha256");
  const chunks: Buffer[] = [];
  for (let at = 0; at < total; at += 100 * 1024) {
    const chunk = Buffer.alloc(Math.min(100 * 1024, total - at), `${at}-${randomUUID()}\n`);
    hash.update(chunk);
    chunks.push(chunk);
  }
  return { chunks, digest: hash.digest("hex") };
}

async function* stream(chunks: Buffer[]) {
  for (const c of chunks) yield c;
}

const target = (key: string) => ({
  bucket: env["EXPORTS_BUCKET"]!,
  key,
  region: env["AWS_REGION"] ?? "us-east-1",
  endpoint: env["S3_ENDPOINT"]!,
});

async function get(key: string) {
  const url = await sign.presignGetUrl({ ...target(key), credentials: sign.envCredentials(), expiresSeconds: 60 });
  return fetch(url);
}

describe("S3 upload", () => {
  it("uploads 11 MB as three parts that arrive whole, with the object's headers", async () => {
    const key = `test/${randomUUID()}/big file+1.csv`;
    const { chunks, digest } = content(11 * MB);
    const operations: string[] = [];
    s3.s3Faults.before = (op) => void operations.push(op);
    await s3.uploadStream({ ...target(key), body: stream(chunks), partSize: 5 * MB, contentType: "text/csv; charset=utf-8", contentDisposition: 'attachment; filename="big.csv"' });
    expect(operations).toEqual(["CreateMultipartUpload", "UploadPart", "UploadPart", "UploadPart", "CompleteMultipartUpload"]);
    const res = await get(key);
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(11 * MB);
    expect(createHash("sha256").update(body).digest("hex")).toBe(digest);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
  });

  it("puts a small body in one call", async () => {
    const key = `test/${randomUUID()}/small.csv`;
    const operations: string[] = [];
    s3.s3Faults.before = (op) => void operations.push(op);
    await s3.uploadStream({ ...target(key), body: stream([Buffer.from("a,b\r\n")]), partSize: 5 * MB, contentType: "text/csv", contentDisposition: "attachment" });
    expect(operations).toEqual(["PutObject"]);
    expect(await (await get(key)).text()).toBe("a,b\r\n");
  });

  it("aborts the multipart upload when a part fails, leaving no object", async () => {
    const key = `test/${randomUUID()}/failed.csv`;
    const { chunks } = content(11 * MB);
    const operations: string[] = [];
    s3.s3Faults.before = (op) => {
      operations.push(op);
      if (op === "UploadPart" && operations.filter((o) => o === "UploadPart").length === 2) throw new Error("injected S3 fault");
    };
    await expect(s3.uploadStream({ ...target(key), body: stream(chunks), partSize: 5 * MB, contentType: "text/csv", contentDisposition: "attachment" })).rejects.toThrow("injected S3 fault");
    expect(operations).toContain("AbortMultipartUpload");
    expect(operations).not.toContain("CompleteMultipartUpload");
    expect((await get(key)).status).toBe(404);
  });
});
