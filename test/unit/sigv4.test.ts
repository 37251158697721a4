import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { describe, expect, it } from "vitest";
import { presignGetUrl } from "../../shared/aws-sign.js";

/** Our use of the SDK's signer must produce exactly the URL @aws-sdk/s3-request-presigner produces. */
describe("presignGetUrl", () => {
  const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "token/with+chars=" };
  const now = new Date("2026-05-18T12:00:05Z");
  const key = "exports/12/1234 (final)*.csv";
  const disposition = 'attachment; filename="journey-export-1234.csv"';

  async function sdkUrl(endpoint?: string) {
    const client = new S3Client({ region: "eu-west-1", credentials, ...(endpoint ? { endpoint, forcePathStyle: true } : {}) });
    return getSignedUrl(
      client,
      new GetObjectCommand({ Bucket: "my-bucket", Key: key, ResponseContentType: "text/csv", ResponseContentDisposition: disposition }),
      { expiresIn: 900, signingDate: now },
    );
  }
  const ours = (endpoint?: string) =>
    presignGetUrl({
      bucket: "my-bucket",
      key,
      region: "eu-west-1",
      credentials,
      expiresSeconds: 900,
      now,
      // The SDK adds two parameters of its own; signing them too makes the URLs comparable.
      query: {
        "response-content-disposition": disposition,
        "response-content-type": "text/csv",
        "x-id": "GetObject",
        "x-amz-checksum-mode": "ENABLED",
      },
      ...(endpoint ? { endpoint } : {}),
    });
  const sorted = (url: string) => {
    const u = new URL(url);
    return { origin: u.origin, path: u.pathname, query: [...u.searchParams].sort(([a], [b]) => a.localeCompare(b)) };
  };

  it("matches the SDK for the virtual-hosted AWS endpoint", async () => {
    expect(sorted(await ours())).toEqual(sorted(await sdkUrl()));
  });

  it("matches the SDK for a path-style endpoint", async () => {
    expect(sorted(await ours("http://127.0.0.1:4566"))).toEqual(sorted(await sdkUrl("http://127.0.0.1:4566")));
  });
});
