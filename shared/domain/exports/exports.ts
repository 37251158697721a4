import { randomUUID } from "node:crypto";
import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../../aws.js";
import { isAwsError } from "../../errors.js";
import { keys } from "../../keys.js";
import { toPositiveInt } from "../../params.js";
import { formatDateTime } from "../../time.js";
import { nextId } from "../ids.js";
import type { Item } from "../owned.js";

/**
 * Export jobs (CONTRACT §9). A job is an item in its owner's partition that moves
 * Pending → Processing → Completed | Failed. A worker claims a job with a
 * conditional write that takes a lease; a crashed worker's lease runs out and the
 * next delivery re-claims it. Every transition is conditional on the claim, so a
 * stale worker can never overwrite a newer one's result.
 */
export const EXPORT_MODULE = "JourneyExport";
export type ExportStatus = "Pending" | "Processing" | "Completed" | "Failed";

export interface ExportOptions {
  Command: "ExportJourneys";
  StatsStartDate: string;
  StatsEndDate: string;
  Status: "Enabled" | "Disabled" | "all";
  IncludeActions: boolean;
}

export interface ExportJob {
  ExportID: number;
  UserID: number;
  Module: string;
  Status: ExportStatus;
  ExportOptions: ExportOptions;
  SubmittedAt: string;
  StartedAt: string | null;
  UpdatedAt: string;
  FinishedAt: string | null;
  ExpiresAt: string;
  DownloadSize: number | null;
  ErrorMessage?: string;
  Attempts: number;
  LeaseToken?: string;
  LeaseUntil?: number;
}

const RETENTION_DAYS = 7;

export async function createExportJob(userId: number, options: ExportOptions, now: Date): Promise<ExportJob> {
  const exportId = await nextId("Export");
  const at = formatDateTime(now);
  const job: ExportJob = {
    ExportID: exportId,
    UserID: userId,
    Module: EXPORT_MODULE,
    Status: "Pending",
    ExportOptions: options,
    SubmittedAt: at,
    StartedAt: null,
    UpdatedAt: at,
    FinishedAt: null,
    // The bucket's lifecycle rule deletes the file after the same seven days.
    ExpiresAt: formatDateTime(new Date(now.getTime() + RETENTION_DAYS * 86400_000)),
    DownloadSize: null,
    Attempts: 0,
  };
  // Fields not yet known are left out of the item (not stored as NULL), so that the
  // claim's if_not_exists(StartedAt) sets the first start time.
  const stored = Object.fromEntries(Object.entries(job).filter(([, v]) => v !== null));
  await ddb().send(
    new PutCommand({
      TableName: tableName(),
      Item: { ...keys.owned("export", userId, exportId), ...stored },
      ConditionExpression: "attribute_not_exists(PK)",
    }),
  );
  return job;
}

const fromItem = (item: Item): ExportJob => {
  const { PK: _pk, SK: _sk, ...rest } = item;
  return { StartedAt: null, FinishedAt: null, DownloadSize: null, ...rest } as unknown as ExportJob;
};

export async function getExportJob(userId: number, exportId: number): Promise<ExportJob | undefined> {
  const out = await ddb().send(
    new GetCommand({ TableName: tableName(), Key: keys.owned("export", userId, exportId), ConsistentRead: true }),
  );
  return out.Item ? fromItem(out.Item) : undefined;
}

export type Claim = { ok: true; job: ExportJob; token: string } | { ok: false; job?: ExportJob };

/**
 * Claims a Pending job, or a Processing job whose lease has run out. Returns the
 * job as it now is when the claim fails (finished, or leased to a live worker).
 */
export async function claimExportJob(userId: number, exportId: number, leaseSeconds: number, now: Date): Promise<Claim> {
  const token = randomUUID();
  try {
    const out = await ddb().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.owned("export", userId, exportId),
        UpdateExpression:
          "SET #s = :processing, LeaseToken = :token, LeaseUntil = :until, UpdatedAt = :at, StartedAt = if_not_exists(StartedAt, :at) ADD Attempts :one",
        ConditionExpression: "attribute_exists(PK) AND (#s = :pending OR (#s = :processing AND LeaseUntil < :nowMs))",
        ExpressionAttributeNames: { "#s": "Status" },
        ExpressionAttributeValues: {
          ":processing": "Processing",
          ":pending": "Pending",
          ":token": token,
          ":until": now.getTime() + leaseSeconds * 1000,
          ":nowMs": now.getTime(),
          ":at": formatDateTime(now),
          ":one": 1,
        },
        ReturnValues: "ALL_NEW",
      }),
    );
    return { ok: true, job: fromItem(out.Attributes ?? {}), token };
  } catch (err) {
    if (!isAwsError(err, "ConditionalCheckFailedException")) throw err;
    return { ok: false, job: await getExportJob(userId, exportId) };
  }
}

/** Extends a live claim, so a long export is never mistaken for a crashed one. */
export async function renewExportLease(userId: number, exportId: number, token: string, leaseSeconds: number, now: Date): Promise<boolean> {
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.owned("export", userId, exportId),
        UpdateExpression: "SET LeaseUntil = :until",
        ConditionExpression: "#s = :processing AND LeaseToken = :token",
        ExpressionAttributeNames: { "#s": "Status" },
        ExpressionAttributeValues: { ":until": now.getTime() + leaseSeconds * 1000, ":processing": "Processing", ":token": token },
      }),
    );
    return true;
  } catch (err) {
    if (isAwsError(err, "ConditionalCheckFailedException")) return false;
    throw err;
  }
}

async function finish(userId: number, exportId: number, token: string, set: Record<string, unknown>, now: Date): Promise<boolean> {
  const names: Record<string, string> = { "#s": "Status" };
  const values: Record<string, unknown> = { ":token": token, ":processing": "Processing", ":at": formatDateTime(now) };
  const parts = Object.entries(set).map(([k, v], i) => {
    names[`#f${i}`] = k;
    values[`:f${i}`] = v;
    return `#f${i} = :f${i}`;
  });
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.owned("export", userId, exportId),
        UpdateExpression: `SET ${[...parts, "UpdatedAt = :at"].join(", ")} REMOVE LeaseToken, LeaseUntil`,
        ConditionExpression: "#s = :processing AND LeaseToken = :token",
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
    return true;
  } catch (err) {
    if (isAwsError(err, "ConditionalCheckFailedException")) return false;
    throw err;
  }
}

export const completeExportJob = (userId: number, exportId: number, token: string, size: number, now: Date) =>
  finish(userId, exportId, token, { Status: "Completed", FinishedAt: formatDateTime(now), DownloadSize: size }, now);

/** Gives a job back after a failed attempt that will be retried: the next delivery claims it at once. */
export const releaseExportJob = (userId: number, exportId: number, token: string, now: Date) =>
  finish(userId, exportId, token, { Status: "Pending" }, now);

export const failExportJob = (userId: number, exportId: number, token: string, message: string, now: Date) =>
  finish(userId, exportId, token, { Status: "Failed", FinishedAt: formatDateTime(now), ErrorMessage: message }, now);

/**
 * Marks a job Failed whatever its claim (the dead-letter path: every delivery
 * failed, possibly by crashing). A finished job is left alone.
 */
export async function failExportJobFinally(userId: number, exportId: number, message: string, now: Date): Promise<void> {
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.owned("export", userId, exportId),
        UpdateExpression: "SET #s = :failed, ErrorMessage = :msg, FinishedAt = :at, UpdatedAt = :at REMOVE LeaseToken, LeaseUntil",
        ConditionExpression: "attribute_exists(PK) AND (#s = :pending OR #s = :processing)",
        ExpressionAttributeNames: { "#s": "Status" },
        ExpressionAttributeValues: { ":failed": "Failed", ":msg": message, ":at": formatDateTime(now), ":pending": "Pending", ":processing": "Processing" },
      }),
    );
  } catch (err) {
    if (!isAwsError(err, "ConditionalCheckFailedException")) throw err;
  }
}

/** The exports queue's message: which job of which user. */
export interface ExportMessage {
  userId: number;
  exportId: number;
}

export function parseExportMessage(body: string): ExportMessage | undefined {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    const userId = toPositiveInt(parsed["UserID"]);
    const exportId = toPositiveInt(parsed["ExportID"]);
    return userId && exportId ? { userId, exportId } : undefined;
  } catch {
    return undefined;
  }
}
