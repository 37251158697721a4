import { describe, expect, it } from "vitest";
import { adminKey, createJourney, createUser, firstError, http, outcome, seedReferences, treeOf, type TestUser } from "../support/api.js";

type Action = Record<string, unknown> & { ActionID: string; ParentActionID: number };

/** The tree with IDs replaced by their pre-order position, so two trees compare by structure. */
function shape(actions: Action[]) {
  const index = new Map(actions.map((a, i) => [Number(a.ActionID), i]));
  return actions.map(({ ActionID: _id, ParentActionID, ...rest }) => ({
    ...rest,
    Parent: ParentActionID === 0 ? -1 : index.get(ParentActionID),
  }));
}

async function journeyWithTree(user: TestUser) {
  const refs = await seedReferences(user);
  const other = await createJourney(user, { Name: "Other" });
  const id = await createJourney(user, {
    Name: "Source",
    Trigger: "ListSubscription",
    Trigger_ListID: refs.list,
    Notes: "src notes",
    Run_Criteria: [[{ type: "tags", operator: "has this tag", value: String(refs.tag) }]],
  });
  const res = await user.patch("/api/v1/journey.actions", {
    JourneyID: id,
    Actions: [
      { Action: "SendEmail", EmailID: refs.email, SenderDomainID: 7, Published: true },
      {
        Action: "Decision",
        Criteria: [],
        Actions: {
          True: [
            { Action: "AddTag", TargetTagID: refs.tag },
            { Action: "SendEmail", EmailID: refs.email },
            { Action: "Wait", WaitUnit: "hours", WaitAmount: 3 },
          ],
          False: [
            { Action: "Subscribe", TargetListID: refs.list },
            { Action: "StartJourney", TargetJourneyID: other },
            { Action: "UpdateCustomFieldValue", TargetCustomFieldID: refs.field, NewCustomFieldValue: "x" },
          ],
        },
      },
      { Action: "SendSMS", message: "hi", gateway_id: 4 },
      { Action: "ExitJourney", TargetJourneyID: [other] },
    ],
  });
  expect(res.status).toBe(200);
  return { id, refs, other, actions: res.body["Actions"] as Action[] };
}

describe("journey.clone", () => {
  it("copies the whole tree with new IDs, same structure, Disabled, with the reference's Notes", async () => {
    const user = await createUser();
    const src = await journeyWithTree(user);
    await user.get("/api/v1/journey.enable", { JourneyID: src.id });
    const res = await user.post("/api/v1/journey.clone", { JourneyID: src.id, NewJourneyName: "Welcome Series Copy" });
    expect(res.status).toBe(200);
    const journey = res.body["Journey"] as Record<string, unknown>;
    expect(journey).toMatchObject({
      JourneyName: "Welcome Series Copy",
      Trigger: "ListSubscription",
      TriggerParameters: { ListID: src.refs.list },
      Status: "Disabled",
      Notes: "Copy of journey Source",
    });
    const actions = res.body["Actions"] as Action[];
    expect(shape(actions)).toEqual(shape(src.actions));
    const oldIds = new Set(src.actions.map((a) => a.ActionID));
    expect(actions.every((a) => !oldIds.has(a.ActionID))).toBe(true);
    const got = await user.get("/api/v1/journey", { JourneyID: journey["JourneyID"] });
    expect(treeOf(got.body)).toEqual(actions);
    expect((got.body["JourneyStats"] as Record<string, unknown>)["TotalSubscribers"]).toBe(0);
    // The source is untouched.
    const source = await user.get("/api/v1/journey", { JourneyID: src.id });
    expect(treeOf(source.body)).toEqual(src.actions);
    expect(source.body["Status"]).toBe("Enabled");
  });

  it.each([
    [{ JourneyID: 1 }, 1, "Missing NewJourneyName parameter"],
    [{ NewJourneyName: "x" }, 2, "Missing JourneyID parameter"],
    [{}, 1, "Missing NewJourneyName parameter"],
  ])("answers %j with code %i", async (params, code, message) => {
    const user = await createUser();
    const res = await user.post("/api/v1/journey.clone", params);
    expect(outcome(res)).toEqual([422, code]);
    expect(firstError(res)?.Message).toBe(message);
    expect(outcome(await user.legacy({ Command: "journey.clone", ...params }))).toEqual([200, code]);
  });

  it("answers 404/3 for an unknown or another user's journey", async () => {
    const a = await createUser();
    const b = await createUser();
    const id = await createJourney(a);
    expect(outcome(await b.post("/api/v1/journey.clone", { JourneyID: id, NewJourneyName: "steal" }))).toEqual([404, 3]);
    expect(outcome(await a.post("/api/v1/journey.clone", { JourneyID: 999999999, NewJourneyName: "x" }))).toEqual([404, 3]);
    expect((await b.get("/api/v1/journeys", { SkipStats: 1 })).body["Journeys"]).toEqual([]);
  });
});

describe("journeys.clone", () => {
  it("clones each owned journey with the name suffix and reports per-ID outcomes", async () => {
    const user = await createUser();
    const stranger = await createUser();
    const src = await journeyWithTree(user);
    const plain = await createJourney(user, { Name: "Plain" });
    const foreign = await createJourney(stranger);
    const res = await user.post("/api/v1/journeys.clone", { JourneyIDs: `${src.id},${plain},${foreign},x`, NameSuffix: "- backup" });
    expect(res.status).toBe(200);
    expect(res.body["ProcessedJourneyIDs"]).toEqual([src.id, plain]);
    expect(res.body["FailedJourneyIDs"]).toEqual([foreign]);
    const cloned = res.body["ClonedJourneys"] as { SourceJourneyID: number; NewJourneyID: number }[];
    expect(cloned.map((c) => c.SourceJourneyID)).toEqual([src.id, plain]);
    const copy = await user.get("/api/v1/journey", { JourneyID: cloned[0]!.NewJourneyID });
    expect(copy.body).toMatchObject({ JourneyName: "Source - backup", Status: "Disabled", Notes: "src notes" });
    expect(shape(treeOf(copy.body) as Action[])).toEqual(shape(src.actions));
    const second = await user.post("/api/v1/journeys.clone", { JourneyIDs: String(plain) });
    const newId = (second.body["ClonedJourneys"] as { NewJourneyID: number }[])[0]!.NewJourneyID;
    expect((await user.get("/api/v1/journey", { JourneyID: newId })).body["JourneyName"]).toBe("Plain (copy)");
  });

  it("answers 422 with code 1 or 2 without usable IDs", async () => {
    const user = await createUser();
    expect(outcome(await user.post("/api/v1/journeys.clone", {}))).toEqual([422, 1]);
    expect(outcome(await user.post("/api/v1/journeys.clone", { JourneyIDs: "a,b" }))).toEqual([422, 2]);
  });
});

describe("journey.copytouser (admin)", () => {
  const copy = (params: Record<string, unknown>) => http.post("/api/v1/journey.copytouser", params, { AdminAPIKey: adminKey() });

  it("copies the tree and each distinct email once, resets user-specific IDs and the trigger", async () => {
    const source = await createUser();
    const target = await createUser();
    const src = await journeyWithTree(source);
    const res = await copy({ JourneyID: src.id, SourceUserID: source.userId, TargetUserID: target.userId });
    expect(res.status).toBe(200);
    expect(res.body["Success"]).toBe(true);
    const emails = res.body["EmailsCopied"] as { SourceEmailID: number; NewEmailID: number }[];
    expect(emails).toHaveLength(1);
    expect(emails[0]!.SourceEmailID).toBe(src.refs.email);
    expect(res.body["ResourcesReset"]).toEqual(["SenderDomainID", "TargetTagID", "TargetListID", "TargetJourneyID", "TargetCustomFieldID", "gateway_id"]);

    const newId = Number(res.body["JourneyID"]);
    const got = await target.get("/api/v1/journey", { JourneyID: newId });
    expect(got.body).toMatchObject({ JourneyName: "Copy of Source", Trigger: "Manual", TriggerParameters: {}, Status: "Disabled" });
    const actions = treeOf(got.body) as Action[];
    expect(actions.map((a) => a["Action"])).toEqual(src.actions.map((a) => a["Action"]));
    const sendEmails = actions.filter((a) => a["Action"] === "SendEmail");
    expect(sendEmails.every((a) => (a["ActionParameters"] as Record<string, unknown>)["EmailID"] === emails[0]!.NewEmailID)).toBe(true);
    expect((sendEmails[0]!["ActionParameters"] as Record<string, unknown>)["SenderDomainID"]).toBe(0);
    expect((actions.find((a) => a["Action"] === "ExitJourney")!["ActionParameters"] as Record<string, unknown>)["TargetJourneyID"]).toBe(0);
    // The copied email belongs to the target, with the same content.
    const email = await target.get("/api/v1/email", { EmailID: emails[0]!.NewEmailID });
    expect(email.body["Email"]).toMatchObject({ EmailName: "Welcome", Subject: "Hello" });
    // The copy saves again unchanged (IDs of 0 mean "not configured").
    const resave = await target.patch("/api/v1/journey.actions", { JourneyID: newId, Actions: rebuild(actions) });
    expect(resave.status).toBe(200);
    // Nothing changed for the source user.
    expect(treeOf((await source.get("/api/v1/journey", { JourneyID: src.id })).body)).toEqual(src.actions);
  });

  it("uses NewJourneyName when given", async () => {
    const source = await createUser();
    const target = await createUser();
    const id = await createJourney(source, { Name: "S" });
    const res = await copy({ JourneyID: id, SourceUserID: source.userId, TargetUserID: target.userId, NewJourneyName: "For user 2" });
    expect(res.body).toMatchObject({ Success: true, EmailsCopied: [], ResourcesReset: [] });
    expect((await target.get("/api/v1/journey", { JourneyID: res.body["JourneyID"] })).body["JourneyName"]).toBe("For user 2");
  });

  it.each([
    [{ SourceUserID: 1, TargetUserID: 1 }, 422, 1],
    [{ JourneyID: 1, TargetUserID: 1 }, 422, 2],
    [{ JourneyID: 1, SourceUserID: 1 }, 422, 3],
    [{ JourneyID: "x", SourceUserID: 1, TargetUserID: 1 }, 422, 4],
    [{ JourneyID: 1, SourceUserID: "y", TargetUserID: 1 }, 422, 5],
    [{ JourneyID: 1, SourceUserID: 1, TargetUserID: "1.5" }, 422, 6],
    [{ JourneyID: 1, SourceUserID: 999999999, TargetUserID: 1 }, 404, 7],
  ])("answers %j with %i / code %i", async (params, status, code) => {
    const target = await createUser();
    const p = { ...params } as Record<string, unknown>;
    if (p["TargetUserID"] === 1 && code === 7) p["TargetUserID"] = target.userId;
    expect(outcome(await copy(p))).toEqual([status, code]);
    expect(outcome(await http.legacy({ Command: "journey.copytouser", AdminAPIKey: adminKey(), ...p }))).toEqual([200, code]);
  });

  it("answers 404 for an unknown target user (8) and a journey of another user (9)", async () => {
    const source = await createUser();
    const other = await createUser();
    const id = await createJourney(other);
    expect(outcome(await copy({ JourneyID: id, SourceUserID: source.userId, TargetUserID: 999999999 }))).toEqual([404, 8]);
    expect(outcome(await copy({ JourneyID: id, SourceUserID: source.userId, TargetUserID: other.userId }))).toEqual([404, 9]);
  });

  it("is admin-only", async () => {
    const user = await createUser();
    const res = await http.post("/api/v1/journey.copytouser", { JourneyID: 1, SourceUserID: 1, TargetUserID: 2 }, { APIKey: user.apiKey });
    expect(outcome(res)).toEqual([401, 99998]);
  });
});

/** Turns the flat list back into the nested input form, keeping ActionIDs. */
function rebuild(flat: Action[], parent = 0, branch = ""): Record<string, unknown>[] {
  return flat
    .filter((a) => a.ParentActionID === parent && a["Branch"] === branch)
    .map((a) => {
      const node: Record<string, unknown> = {
        ActionID: a.ActionID,
        Action: a["Action"],
        Published: a["Published"],
        Notes: a["Notes"],
        ...(a["ActionParameters"] as Record<string, unknown>),
      };
      const id = Number(a.ActionID);
      if (a["Action"] === "Decision") node["Actions"] = { True: rebuild(flat, id, "True"), False: rebuild(flat, id, "False") };
      if (a["Action"] === "YesNo") node["Actions"] = { Yes: rebuild(flat, id, "Yes"), No: rebuild(flat, id, "No") };
      return node;
    });
}

export { rebuild };
