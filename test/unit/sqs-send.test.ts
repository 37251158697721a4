import { SignatureV4 } from "@smithy/signature-v4";
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signRequest } from "../../shared/domain/sigv4.js";

/** The SDK's signer takes a hash class; this one is node:crypto (HMAC when given a secret). */
class NodeSha256 {
  private h: Hash | Hmac;
  constructor(private secret?: string | Uint8Array) {
    this.h = secret ? createHmac("sha256", secret) : createHash("sha256");
  }
  update(data: string | Uint8Array) {
    this.h.update(data);
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
  reset() {
    this.h = this.secret ? createHmac("sha256", this.secret) : createHash("sha256");
  }
}

/** The hand-rolled header signer must agree with the AWS SDK's signer on the same request. */
describe("signRequest", () => {
  it("produces the SDK's Authorization header for an SQS JSON call", async () => {
    const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "tok" };
    const now = new Date("2026-05-18T12:00:05Z");
    const body = JSON.stringify({ QueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/exports", MessageBody: '{"UserID":1,"ExportID":2}' });
    const headers = { "content-type": "application/x-amz-json-1.0", "x-amz-target": "AmazonSQS.SendMessage" };
    const ours = signRequest({
      method: "POST",
      url: new URL("https://sqs.eu-west-1.amazonaws.com/"),
      headers,
      body,
      service: "sqs",
      region: "eu-west-1",
      credentials,
      now,
    });
    const sdk = await new SignatureV4({ credentials, region: "eu-west-1", service: "sqs", sha256: NodeSha256 as never, applyChecksum: false }).sign(
      { method: "POST", protocol: "https:", hostname: "sqs.eu-west-1.amazonaws.com", path: "/", headers: { ...headers, host: "sqs.eu-west-1.amazonaws.com" }, body },
      { signingDate: now },
    );
    expect(ours["authorization"]).toBe(sdk.headers["authorization"]);
    expect(ours["x-amz-date"]).toBe(sdk.headers["x-amz-date"]);
  });
});
