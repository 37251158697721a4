import { DeleteCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../aws.js";
import { isAwsError } from "../errors.js";
import { keys } from "../keys.js";
import { nextId, nextIds } from "./ids.js";
import { batchDelete, batchGet, batchPut, keyId, listOwned, type Item } from "./owned.js";

/**
 * Emails are two items: a small one with the name and subject (`E#`), which lists
 * and joins read, and the body (`EB#`, up to 320 KB). The small item is written
 * last and deleted first, so an email is visible exactly while it exists whole.
 */
export interface EmailFields {
  EmailName: string;
  Subject: string;
  HTMLContent: string;
  PlainContent: string;
}

export async function createEmail(userId: number, email: EmailFields): Promise<number> {
  const emailId = await nextId("Email");
  await ddb().send(
    new PutCommand({
      TableName: tableName(),
      Item: { ...keys.emailBody(userId, emailId), HTMLContent: email.HTMLContent, PlainContent: email.PlainContent },
    }),
  );
  await ddb().send(
    new PutCommand({
      TableName: tableName(),
      Item: { ...keys.owned("email", userId, emailId), EmailName: email.EmailName, Subject: email.Subject },
      ConditionExpression: "attribute_not_exists(PK)",
    }),
  );
  return emailId;
}

export async function getEmail(userId: number, emailId: number): Promise<EmailFields | undefined> {
  const head = keys.owned("email", userId, emailId);
  const body = keys.emailBody(userId, emailId);
  const found = await batchGet([head, body]);
  const h = found.get(keyId(head));
  if (!h) return undefined;
  const b = found.get(keyId(body));
  return {
    EmailName: String(h["EmailName"]),
    Subject: String(h["Subject"] ?? ""),
    HTMLContent: String(b?.["HTMLContent"] ?? ""),
    PlainContent: String(b?.["PlainContent"] ?? ""),
  };
}

/** Names and subjects of all the user's emails, by EmailID: one query of small items. */
export async function emailHeads(userId: number): Promise<Map<number, { EmailName: string; Subject: string }>> {
  const items = await listOwned("email", userId);
  return new Map(
    items.map((i) => [keys.idFromSk(String(i["SK"])), { EmailName: String(i["EmailName"]), Subject: String(i["Subject"] ?? "") }]),
  );
}

export async function deleteEmail(userId: number, emailId: number): Promise<boolean> {
  try {
    await ddb().send(
      new DeleteCommand({
        TableName: tableName(),
        Key: keys.owned("email", userId, emailId),
        ConditionExpression: "attribute_exists(PK)",
      }),
    );
  } catch (err) {
    if (isAwsError(err, "ConditionalCheckFailedException")) return false;
    throw err;
  }
  await ddb().send(new DeleteCommand({ TableName: tableName(), Key: keys.emailBody(userId, emailId) }));
  return true;
}

/**
 * Prepares copies of a user's emails for another user: new IDs, bodies written
 * now (invisible without their head item), heads returned for the caller to write
 * in the same transaction as the journey that uses them.
 */
export async function stageEmailCopies(
  fromUser: number,
  toUser: number,
  emailIds: number[],
): Promise<{ mapping: Map<number, number>; heads: Item[] }> {
  const mapping = new Map<number, number>();
  if (emailIds.length === 0) return { mapping, heads: [] };
  const found = await batchGet(emailIds.flatMap((id) => [keys.owned("email", fromUser, id), keys.emailBody(fromUser, id)]));
  const present = emailIds.filter((id) => found.has(keyId(keys.owned("email", fromUser, id))));
  if (present.length === 0) return { mapping, heads: [] };
  const first = await nextIds("Email", present.length);
  const bodies: Item[] = [];
  const heads: Item[] = [];
  present.forEach((id, i) => {
    const newId = first + i;
    mapping.set(id, newId);
    const head = found.get(keyId(keys.owned("email", fromUser, id)))!;
    const body = found.get(keyId(keys.emailBody(fromUser, id)));
    bodies.push({ ...keys.emailBody(toUser, newId), HTMLContent: body?.["HTMLContent"] ?? "", PlainContent: body?.["PlainContent"] ?? "" });
    heads.push({ ...keys.owned("email", toUser, newId), EmailName: head["EmailName"], Subject: head["Subject"] ?? "" });
  });
  await batchPut(bodies);
  return { mapping, heads };
}

/** Removes staged bodies when the copy they were made for did not happen. */
export async function discardStagedBodies(toUser: number, mapping: Map<number, number>): Promise<void> {
  await batchDelete([...mapping.values()].map((id) => keys.emailBody(toUser, id)));
}
