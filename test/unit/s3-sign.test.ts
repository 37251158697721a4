import { S3Client, UploadPartCommand } from "@aws-sdk/client-s3";
import type { HttpRequest } from "@smithy/types";
import { describe, expect, it } from "vitest";
import { expectSdkAuthorization } from "../support/sign-check.js";

/**
 * The export worker uploads to S3 with its own requests (shared/s3-upload.ts), signed
 * by shared/aws-sign.ts with S3's rules (the key escaped once, signed as sent). The S3
 * client is the reference: for the same request, our Authorization must be its own.
 */
describe("signRequest for S3", () => {
  const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "tok/en+=" };
  const now = new Date("2026-05-18T12:00:05Z");

  async function sdkRequest(endpoint?: string): Promise<HttpRequest> {
    let captured: HttpRequest | undefined;
    const client = new S3Client({
      region: "eu-west-1",
      credentials,
      systemClockOffset: now.getTime() - Date.now(),
      requestChecksumCalculation: "WHEN_REQUIRED",
      ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
      requestHandler: {
        handle: async (req: HttpRequest) => {
          captured = req;
          throw new Error("captured");
        },
      },
      maxAttempts: 1,
    });
    // A key with characters S3 escapes: a space, a plus, a non-ASCII letter.
    const cmd = new UploadPartCommand({ Bucket: "journey-exports", Key: "exports/1/2/journey export+ü.csv", UploadId: "up/load=id", PartNumber: 2, Body: Buffer.from("a,b\r\n") });
    await expect(client.send(cmd)).rejects.toThrow("captured");
    return captured!;
  }

  for (const endpoint of [undefined, "http://127.0.0.1:4566"]) {
    it(`gives the S3 client's Authorization for an UploadPart (${endpoint ?? "AWS endpoint"})`, async () => {
      const sdk = await sdkRequest(endpoint);
      await expectSdkAuthorization(sdk, { service: "s3", region: "eu-west-1", credentials, uriEscapePath: false });
    });
  }
});
