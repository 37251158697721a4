import * as z from "zod/mini";
import { document } from "../command-docs.js";
import { defineCommand, userOf } from "../command.js";
import { CommandError, notFound } from "../errors.js";
import { createOwned, getOwned, listOwned, type Item } from "../domain/owned.js";
import { createEmail, deleteEmail, emailHeads, getEmail } from "../domain/emails.js";
import { keys } from "../keys.js";
import { field, fail, isAbsent, optionalId, optionalText, requiredId, requiredText, type Coded } from "../params.js";

/**
 * The minimal reference-data registry journeys point at (CONTRACT §6). Codes:
 * 1 missing, 2 invalid, 3 referenced list not found; messages name the parameter.
 */

const missing = (name: string): Coded => [1, `Missing ${name} parameter`];
const invalid = (name: string): Coded => [2, `Invalid ${name} parameter`];
const listNotFound = (name: string) => new CommandError(3, `${name} matching record not found`, "validation");

const name = (param: string, max = 255) =>
  requiredText(missing(param), { invalid: [2, `Invalid ${param} parameter (1 to ${max} characters)`], max });
const id = (param: string) => requiredId(missing(param), invalid(param));

/** Optional text limited in UTF-8 bytes, so an item can never outgrow DynamoDB's 400 KB. */
const content = (param: string, maxBytes: number) =>
  field({ type: "string", description: `At most ${maxBytes} bytes of UTF-8` }, (v, ctx): string => {
    if (isAbsent(v)) return "";
    if (typeof v !== "string" || Buffer.byteLength(v) > maxBytes) {
      return fail(ctx, v, [2, `Invalid ${param} parameter (at most ${maxBytes} bytes)`]);
    }
    return v;
  });

async function requireList(userId: number, listId: number, param: string): Promise<void> {
  if (!(await getOwned("list", userId, listId))) throw listNotFound(param);
}

const idOf = (item: Item) => keys.idFromSk(String(item["SK"]));

/** The caller's custom fields or tags, all of them or those of one (owned) list. */
async function recordsOfList(kind: "customField" | "tag", userId: number, listId: number | undefined, param: string): Promise<Item[]> {
  if (listId !== undefined) await requireList(userId, listId, param);
  const items = await listOwned(kind, userId);
  return items.filter((i) => listId === undefined || i["ListID"] === listId);
}

export const listCreate = defineCommand({
  name: "list.create",
  route: { method: "POST", path: "/api/v1/list" },
  group: "reference",
  scope: "user",
  params: z.object({ SubscriberListName: name("SubscriberListName") }),
  async run(p, ctx) {
    const listId = await createOwned("list", userOf(ctx).userId, { Name: p.SubscriberListName });
    return { ErrorCode: 0, ListID: listId };
  },
});
DOCS: document(listCreate, {
  summary: "Create a subscriber list",
});

export const listsGet = defineCommand({
  name: "lists.get",
  route: { method: "GET", path: "/api/v1/lists" },
  group: "reference",
  scope: "user",
  params: z.object({}),
  async run(_p, ctx) {
    const items = await listOwned("list", userOf(ctx).userId);
    return { Lists: items.map((i) => ({ ListID: idOf(i), Name: i["Name"] })), TotalListCount: items.length };
  },
});
DOCS: document(listsGet, {
  summary: "List the caller's subscriber lists",
});

export const emailCreate = defineCommand({
  name: "email.create",
  route: { method: "POST", path: "/api/v1/email" },
  group: "reference",
  scope: "user",
  params: z.object({
    EmailName: name("EmailName"),
    Subject: optionalText(invalid("Subject"), { max: 998 }),
    HTMLContent: content("HTMLContent", 256 * 1024),
    PlainContent: content("PlainContent", 64 * 1024),
  }),
  async run(p, ctx) {
    const emailId = await createEmail(userOf(ctx).userId, {
      EmailName: p.EmailName,
      Subject: p.Subject ?? "",
      HTMLContent: p.HTMLContent,
      PlainContent: p.PlainContent,
    });
    return { ErrorCode: 0, EmailID: emailId };
  },
});
DOCS: document(emailCreate, {
  summary: "Create an email (content referenced by SendEmail actions)",
});

export const emailGet = defineCommand({
  name: "email.get",
  route: { method: "GET", path: "/api/v1/email" },
  group: "reference",
  scope: "user",
  params: z.object({ EmailID: id("EmailID") }),
  async run(p, ctx) {
    const email = await getEmail(userOf(ctx).userId, p.EmailID);
    if (!email) throw notFound(3, "Email not found");
    return { Email: { EmailID: p.EmailID, ...email } };
  },
});
DOCS: document(emailGet, {
  summary: "Get one email",
  errors: [notFound(3, "Email not found")],
});

export const emailsGet = defineCommand({
  name: "emails.get",
  route: { method: "GET", path: "/api/v1/emails" },
  group: "reference",
  scope: "user",
  params: z.object({}),
  async run(_p, ctx) {
    // Content is left out: a list of large HTML bodies could outgrow a Lambda response.
    const heads = await emailHeads(userOf(ctx).userId);
    return {
      Emails: [...heads].map(([EmailID, head]) => ({ EmailID, ...head })),
      TotalEmailCount: heads.size,
    };
  },
});
DOCS: document(emailsGet, {
  summary: "List the caller's emails (without their content)",
});

export const emailDelete = defineCommand({
  name: "email.delete",
  route: { method: "POST", path: "/api/v1/email.delete" },
  group: "reference",
  scope: "user",
  params: z.object({ EmailID: id("EmailID") }),
  async run(p, ctx) {
    if (!(await deleteEmail(userOf(ctx).userId, p.EmailID))) throw notFound(3, "Email not found");
    return { ErrorCode: 0, EmailID: p.EmailID };
  },
});
DOCS: document(emailDelete, {
  summary: "Delete an email; journey actions that used it keep their EmailID (orphans)",
  errors: [notFound(3, "Email not found")],
});

export const customFieldCreate = defineCommand({
  name: "customfield.create",
  route: { method: "POST", path: "/api/v1/customfield" },
  group: "reference",
  scope: "user",
  params: z.object({ SubscriberListID: id("SubscriberListID"), FieldName: name("FieldName") }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    await requireList(userId, p.SubscriberListID, "SubscriberListID");
    const fieldId = await createOwned("customField", userId, { ListID: p.SubscriberListID, FieldName: p.FieldName });
    return { ErrorCode: 0, CustomFieldID: fieldId };
  },
});
DOCS: document(customFieldCreate, {
  summary: "Create a custom field on a list",
});

export const customFieldsGet = defineCommand({
  name: "customfields.get",
  route: { method: "GET", path: "/api/v1/customfields" },
  group: "reference",
  scope: "user",
  params: z.object({ SubscriberListID: optionalId(invalid("SubscriberListID")) }),
  async run(p, ctx) {
    const items = await recordsOfList("customField", userOf(ctx).userId, p.SubscriberListID, "SubscriberListID");
    return { CustomFields: items.map((i) => ({ CustomFieldID: idOf(i), FieldName: i["FieldName"], ListID: i["ListID"] })) };
  },
});
DOCS: document(customFieldsGet, {
  summary: "List custom fields, optionally of one list",
});

export const tagCreate = defineCommand({
  name: "subscriber.tags.create",
  route: { method: "POST", path: "/api/v1/subscriber.tags" },
  group: "reference",
  scope: "user",
  params: z.object({ ListID: id("ListID"), TagName: name("TagName") }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    await requireList(userId, p.ListID, "ListID");
    const tagId = await createOwned("tag", userId, { ListID: p.ListID, TagName: p.TagName });
    return { ErrorCode: 0, TagID: tagId };
  },
});
DOCS: document(tagCreate, {
  summary: "Create a tag on a list",
});

export const tagsGet = defineCommand({
  name: "subscriber.tags.get",
  route: { method: "GET", path: "/api/v1/subscriber.tags" },
  group: "reference",
  scope: "user",
  params: z.object({ ListID: optionalId(invalid("ListID")) }),
  async run(p, ctx) {
    const items = await recordsOfList("tag", userOf(ctx).userId, p.ListID, "ListID");
    return { Tags: items.map((i) => ({ TagID: idOf(i), TagName: i["TagName"], ListID: i["ListID"] })) };
  },
});
DOCS: document(tagsGet, {
  summary: "List tags, optionally of one list",
});

export const referenceCommands = [
  listCreate,
  listsGet,
  emailCreate,
  emailGet,
  emailsGet,
  emailDelete,
  customFieldCreate,
  customFieldsGet,
  tagCreate,
  tagsGet,
];
