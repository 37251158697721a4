// Runs one export job in a fresh process with the deployed worker bundle, so that
// its peak memory is the worker's alone:
//   node export-child.mjs <bundle.mjs> <userId> <exportId>
// The environment (table, S3 endpoint, bucket) comes from the parent's local stack.
const [bundle, userId, exportId] = process.argv.slice(2);
const { handler } = await import(bundle);
const started = performance.now();
const result = await handler({
  Records: [
    {
      messageId: "bench",
      receiptHandle: "bench",
      body: JSON.stringify({ UserID: Number(userId), ExportID: Number(exportId) }),
      attributes: { ApproximateReceiveCount: "1", SentTimestamp: String(Date.now()), SenderId: "bench", ApproximateFirstReceiveTimestamp: String(Date.now()) },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:journey-exports",
      awsRegion: "us-east-1",
    },
  ],
});
const ms = performance.now() - started;
// maxRSS is in kilobytes.
console.log(JSON.stringify({ ok: result.batchItemFailures.length === 0, ms, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
