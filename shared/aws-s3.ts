import { S3Client } from "@aws-sdk/client-s3";
import { loadConfig } from "./config.js";

/**
 * The S3 client, in a module of its own: only the export worker imports it. The
 * API functions presign downloads with the SDK's signer (shared/aws-sign.ts), which keeps
 * the S3 client (about 200 KB) out of their bundles.
 */
let client: S3Client | undefined;

export function s3(): S3Client {
  if (!client) {
    const cfg = loadConfig();
    client = new S3Client({
      region: cfg.AWS_REGION,
      ...(cfg.S3_ENDPOINT
        ? { endpoint: cfg.S3_ENDPOINT, forcePathStyle: true, credentials: { accessKeyId: "local", secretAccessKey: "local" } }
        : {}),
    });
  }
  return client;
}
