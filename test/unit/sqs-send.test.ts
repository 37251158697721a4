import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { HttpRequest } from "@smithy/types";
import { describe, expect, it } from "vitest";
import { expectSdkAuthorization } from "../support/sign-check.js";

/**
 * The export submit path sends to SQS with our own fetch, signed by shared/aws-sign.ts.
 * The SQS client is the reference: whatever request it builds and signs, our
 * signing of the same method, URL, headers and body must give the same Authorization.
 */
describe("signRequest", () => {
  const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "tok/en+=" };
  const now = new Date("2026-05-18T12:00:05Z");

  /** The request the SQS client would send, captured instead of sent. */
  async function sdkRequest(endpoint?: string): Promise<HttpRequest> {
    let captured: HttpRequest | undefined;
    const client = new SQSClient({
      region: "eu-west-1",
      credentials,
      systemClockOffset: now.getTime() - Date.now(),
      ...(endpoint ? { endpoint } : {}),
      requestHandler: {
        handle: async (req: HttpRequest) => {
          captured = req;
          throw new Error("captured");
        },
      },
      maxAttempts: 1,
    });
    const cmd = new SendMessageCommand({ QueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/exports", MessageBody: '{"UserID":1,"ExportID":2}' });
    await expect(client.send(cmd)).rejects.toThrow("captured");
    return captured!;
  }

  for (const endpoint of [undefined, "http://127.0.0.1:4566"]) {
    it(`gives the SQS client's Authorization for the same request (${endpoint ?? "AWS endpoint"})`, async () => {
      const sdk = await sdkRequest(endpoint);
      const ours = await expectSdkAuthorization(sdk, { service: "sqs", region: "eu-west-1", credentials });
      expect(ours["x-amz-security-token"]).toBe(credentials.sessionToken);
      expect(ours["host"]).toBeUndefined();
    });
  }
});
