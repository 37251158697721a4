import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { App, Stack, Validations } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
import { afterAll, describe, expect, it } from "vitest";
import { JourneyApiStack } from "../../infra/stack.js";

/**
 * cdk-nag's AwsSolutions pack over the whole stack. Every finding is either fixed
 * in the stack or acknowledged there with a reason (Validations.of(...).acknowledge);
 * an unacknowledged finding of any severity fails here, including one brought in by
 * a function or resource added later.
 */
interface Violation {
  ruleName: string;
  severity: string;
  violatingConstructs: { constructPath: string }[];
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Synthesizes an app under the AwsSolutions pack; returns every unacknowledged finding, one line each. */
function nag(build: (app: App) => void): string[] {
  const outdir = mkdtempSync(path.join(os.tmpdir(), "journey-nag-"));
  dirs.push(outdir);
  const app = new App({ outdir });
  build(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const file = path.join(outdir, "validation-report.json");
  // Synthesis throws when a plugin reports a violation; the report says which.
  try {
    app.synth();
  } catch (err) {
    if (!existsSync(file)) throw err;
  }
  const report = JSON.parse(readFileSync(file, "utf8")) as {
    pluginReports: { pluginName: string; violations: Violation[] }[];
  };
  return report.pluginReports.flatMap((p) =>
    p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.severity} ${v.ruleName} at ${c.constructPath}`)),
  );
}

describe("cdk-nag AwsSolutions", () => {
  it("reports nothing unacknowledged on the Journey API stack", () => {
    // With SMS gateways configured, so that the runner's SendTextMessage grant is checked too.
    expect(
      nag((app) => {
        app.node.setContext("smsGateways", {
          "0": {
            OriginationIdentity: "arn:aws:sms-voice:eu-west-1:111122223333:pool/pool-default",
            SenderIds: { ACME: "arn:aws:sms-voice:eu-west-1:111122223333:sender-id/ACME/GB" },
          },
        });
        app.node.setContext("smsConfigurationSet", "journeys-sms");
        new JourneyApiStack(app, "JourneyApi");
      }),
    ).toEqual([]);
    // Synthesis bundles all 19 functions. 200 s at a load of 9 on the shared 2-core
    // machine, 296 s at a load of 23: bounded, with room.
  }, 480_000);

  // The check above must be able to fail: a bare bucket is a finding.
  it("reports a bucket without server access logs", () => {
    const found = nag((app) => new s3.Bucket(new Stack(app, "Probe"), "Bare", { enforceSSL: true }));
    expect(found).toContain("error AwsSolutions-S1 at Probe/Bare/Resource");
  });
});
