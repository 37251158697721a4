import { describe, expect, it } from "vitest";
import { createUser, firstError, outcome } from "../support/api.js";

describe("reference data registry", () => {
  it("creates and lists lists, emails, custom fields, tags and subscribers", async () => {
    const user = await createUser();
    const list = await user.post("/api/v1/list", { SubscriberListName: "Newsletter" });
    expect(list.body).toMatchObject({ Success: true, ErrorCode: 0 });
    const listId = Number(list.body["ListID"]);

    const lists = await user.get("/api/v1/lists");
    expect(lists.body).toEqual({ Success: true, Lists: [{ ListID: listId, Name: "Newsletter" }], TotalListCount: 1 });

    const email = await user.post("/api/v1/email", { EmailName: "Welcome", Subject: "Hi", HTMLContent: "<p>x</p>", PlainContent: "x" });
    const emailId = Number(email.body["EmailID"]);
    expect((await user.get("/api/v1/email", { EmailID: emailId })).body).toEqual({
      Success: true,
      Email: { EmailID: emailId, EmailName: "Welcome", Subject: "Hi", HTMLContent: "<p>x</p>", PlainContent: "x" },
    });
    expect((await user.get("/api/v1/emails")).body).toEqual({
      Success: true,
      Emails: [{ EmailID: emailId, EmailName: "Welcome", Subject: "Hi" }],
      TotalEmailCount: 1,
    });

    const field = await user.post("/api/v1/customfield", { SubscriberListID: listId, FieldName: "City" });
    const fieldId = Number(field.body["CustomFieldID"]);
    expect((await user.get("/api/v1/customfields", { SubscriberListID: listId })).body).toEqual({
      Success: true,
      CustomFields: [{ CustomFieldID: fieldId, FieldName: "City", ListID: listId }],
    });

    const tag = await user.post("/api/v1/subscriber.tags", { ListID: listId, TagName: "vip" });
    const tagId = Number(tag.body["TagID"]);
    expect((await user.get("/api/v1/subscriber.tags")).body).toEqual({ Success: true, Tags: [{ TagID: tagId, TagName: "vip", ListID: listId }] });

    const sub = await user.post("/api/v1/subscriber", { ListID: listId, EmailAddress: "Person@Example.com" });
    expect(sub.body).toMatchObject({ Success: true, ErrorCode: 0 });
    const again = await user.post("/api/v1/subscriber", { ListID: listId, EmailAddress: "person@example.com" });
    expect(again.body["SubscriberID"]).toBe(sub.body["SubscriberID"]);
  });

  it.each([
    ["/api/v1/list", {}, 1, "Missing SubscriberListName parameter"],
    ["/api/v1/list", { SubscriberListName: { a: 1 } }, 2, undefined],
    ["/api/v1/email", {}, 1, "Missing EmailName parameter"],
    ["/api/v1/email", { EmailName: "x", HTMLContent: "x".repeat(300 * 1024) }, 2, undefined],
    ["/api/v1/customfield", { FieldName: "x" }, 1, "Missing SubscriberListID parameter"],
    ["/api/v1/customfield", { SubscriberListID: "abc", FieldName: "x" }, 2, "Invalid SubscriberListID parameter"],
    ["/api/v1/customfield", { SubscriberListID: 987654321, FieldName: "x" }, 3, "SubscriberListID matching record not found"],
    ["/api/v1/subscriber.tags", { ListID: 987654321, TagName: "x" }, 3, undefined],
    ["/api/v1/subscriber.tags", { ListID: 1 }, 1, "Missing TagName parameter"],
    ["/api/v1/subscriber", { ListID: 987654321, EmailAddress: "a@example.com" }, 3, undefined],
    ["/api/v1/subscriber", { ListID: 1, EmailAddress: "nope" }, 2, "Invalid EmailAddress parameter"],
  ])("POST %s %j answers 422 with code %i", async (path, params, code, message) => {
    const user = await createUser();
    const res = await user.post(path, params as Record<string, unknown>);
    expect(outcome(res)).toEqual([422, code]);
    if (message) expect(firstError(res)?.Message).toBe(message);
  });

  it("answers 404/3 for an email that is not the caller's", async () => {
    const owner = await createUser();
    const other = await createUser();
    const emailId = Number((await owner.post("/api/v1/email", { EmailName: "Mine" })).body["EmailID"]);
    expect(outcome(await other.get("/api/v1/email", { EmailID: emailId }))).toEqual([404, 3]);
    expect(outcome(await other.legacy({ Command: "email.get", EmailID: emailId }))).toEqual([200, 3]);
  });

  it("keeps every user's records invisible to every other user", async () => {
    const a = await createUser();
    const b = await createUser();
    const listA = Number((await a.post("/api/v1/list", { SubscriberListName: "A's" })).body["ListID"]);
    expect((await b.get("/api/v1/lists")).body["Lists"]).toEqual([]);
    expect(outcome(await b.post("/api/v1/subscriber.tags", { ListID: listA, TagName: "x" }))).toEqual([422, 3]);
    expect(outcome(await b.get("/api/v1/customfields", { SubscriberListID: listA }))).toEqual([422, 3]);
  });
});
