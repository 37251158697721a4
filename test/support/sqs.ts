import { SQSClient } from "@aws-sdk/client-sqs";
import { inject } from "vitest";

/** The tests' own SQS client for the emulator: the functions themselves never need one. */
let client: SQSClient | undefined;

export function sqsClient(): SQSClient {
  const env = inject("stackEnv");
  client ??= new SQSClient({
    region: env["AWS_REGION"],
    endpoint: env["SQS_ENDPOINT"],
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  return client;
}
