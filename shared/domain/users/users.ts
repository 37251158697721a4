import { GetCommand, PutCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../../aws.js";
import type { Permission } from "../../command.js";
import { CommandError, isAwsError } from "../../errors.js";
import { keys } from "../../keys.js";
import { epochSeconds, formatDateTime } from "../../time.js";
import { nextId } from "../ids.js";
import { hashPassword, newSecret, sha256Hex, verifyPassword } from "../secrets.js";

export interface UserInfo {
  UserID: number;
  Username: string;
  EmailAddress: string;
}

/** What a credential item carries, denormalised so that authentication is one GetItem. */
export interface Principal extends UserInfo {
  Permissions: Permission[];
}

/**
 * Creates a user, its uniqueness guards and its first API key in one transaction:
 * either all exist or none do. Uniqueness keys hash the name so that any input
 * length stays within DynamoDB's key-size limit.
 */
export async function createUser(input: {
  username: string;
  password: string;
  email: string;
  permissions: Permission[];
  now: Date;
}): Promise<{ userId: number; apiKey: string }> {
  const userId = await nextId("User");
  const apiKey = newSecret();
  const passwordHash = await hashPassword(input.password);
  const principal: Principal = {
    UserID: userId,
    Username: input.username,
    EmailAddress: input.email,
    Permissions: input.permissions,
  };
  const createdAt = formatDateTime(input.now);
  const guard = "attribute_not_exists(PK)";
  try {
    await ddb().send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: tableName(), Item: { ...keys.user(userId), ...principal, CreatedAt: createdAt }, ConditionExpression: guard } },
          {
            Put: {
              TableName: tableName(),
              Item: { ...keys.username(sha256Hex(input.username.toLowerCase())), ...principal, PasswordHash: passwordHash },
              ConditionExpression: guard,
            },
          },
          {
            Put: {
              TableName: tableName(),
              Item: { ...keys.userEmail(sha256Hex(input.email.toLowerCase())), UserID: userId },
              ConditionExpression: guard,
            },
          },
          { Put: { TableName: tableName(), Item: { ...keys.apiKey(sha256Hex(apiKey)), ...principal, CreatedAt: createdAt } } },
        ],
      }),
    );
  } catch (err) {
    if (isAwsError(err, "TransactionCanceledException")) {
      const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
      if (reasons[1]?.Code === "ConditionalCheckFailed") throw new CommandError(12, "Username already exists", "conflict");
      if (reasons[2]?.Code === "ConditionalCheckFailed") throw new CommandError(13, "Email address already exists", "conflict");
    }
    throw err;
  }
  return { userId, apiKey };
}

export async function getUser(userId: number): Promise<UserInfo | undefined> {
  const out = await ddb().send(new GetCommand({ TableName: tableName(), Key: keys.user(userId) }));
  if (!out.Item) return undefined;
  return { UserID: userId, Username: String(out.Item["Username"]), EmailAddress: String(out.Item["EmailAddress"]) };
}

function toPrincipal(item: Record<string, unknown>): Principal {
  return {
    UserID: Number(item["UserID"]),
    Username: String(item["Username"]),
    EmailAddress: String(item["EmailAddress"]),
    Permissions: (item["Permissions"] as Permission[] | undefined) ?? [],
  };
}

export async function principalByPassword(username: string, password: string): Promise<Principal | undefined> {
  const out = await ddb().send(
    new GetCommand({ TableName: tableName(), Key: keys.username(sha256Hex(username.toLowerCase())) }),
  );
  if (!out.Item || !(await verifyPassword(password, String(out.Item["PasswordHash"])))) return undefined;
  return toPrincipal(out.Item);
}

export async function principalByApiKey(apiKey: string): Promise<Principal | undefined> {
  const out = await ddb().send(new GetCommand({ TableName: tableName(), Key: keys.apiKey(sha256Hex(apiKey)) }));
  return out.Item ? toPrincipal(out.Item) : undefined;
}

export interface SessionRecord extends Principal {
  ExpiresAt: number;
}

export async function createSession(principal: Principal, ttlSeconds: number, now: Date): Promise<string> {
  const sessionId = newSecret();
  const expiresAt = epochSeconds(now) + ttlSeconds;
  await ddb().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        ...keys.session(sha256Hex(sessionId)),
        ...principal,
        ExpiresAt: expiresAt,
        // Kept a day past expiry so that late callers hear "Session expired", not "invalid".
        ttl: expiresAt + 86400,
      },
    }),
  );
  return sessionId;
}

export async function sessionById(sessionId: string): Promise<SessionRecord | undefined> {
  const out = await ddb().send(new GetCommand({ TableName: tableName(), Key: keys.session(sha256Hex(sessionId)) }));
  return out.Item ? { ...toPrincipal(out.Item), ExpiresAt: Number(out.Item["ExpiresAt"]) } : undefined;
}
