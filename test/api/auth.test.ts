import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { adminKey, createUser, firstError, http, outcome } from "../support/api.js";

const uniq = () => Math.random().toString(36).slice(2, 10);

describe("user.create (admin)", () => {
  it("creates a user with a one-time API key and both permissions by default", async () => {
    const name = `u-${uniq()}`;
    const res = await http.post("/api/v1/user", { Username: name, Password: "pw", EmailAddress: `${name}@example.com` }, { AdminAPIKey: adminKey() });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ Success: true, ErrorCode: 0 });
    expect(typeof res.body["UserID"]).toBe("number");
    expect(String(res.body["APIKey"]).length).toBeGreaterThanOrEqual(43); // 32 random bytes, base64url
    const key = String(res.body["APIKey"]);
    expect((await http.post("/api/v1/journey", { Name: "j" }, { APIKey: key })).status).toBe(200);
  });

  it("accepts the admin key as a parameter on /api.php", async () => {
    const name = `u-${uniq()}`;
    const res = await http.legacy({ Command: "user.create", AdminAPIKey: adminKey(), Username: name, Password: "pw", EmailAddress: `${name}@example.com` });
    expect(res.status).toBe(200);
    expect(res.body["Success"]).toBe(true);
  });

  it.each([
    [{ Username: "a", Password: "b" }, 2],
    [{ Password: "b", EmailAddress: "x@example.com" }, 3],
    [{ Username: "", Password: "b", EmailAddress: "x@example.com" }, 3],
    [{ Username: "a", EmailAddress: "x@example.com" }, 4],
    [{ Username: "a", Password: "b", EmailAddress: "not-an-email" }, 10],
    [{ Username: "a", Password: "b", EmailAddress: "x@example.com", Permissions: "Campaign.Create,Root" }, 17],
    [{}, 2],
  ])("rejects %j with code %i (422 on v1, 200 on /api.php)", async (params, code) => {
    const v1 = await http.post("/api/v1/user", params, { AdminAPIKey: adminKey() });
    expect(outcome(v1)).toEqual([422, code]);
    const legacy = await http.legacy({ Command: "user.create", AdminAPIKey: adminKey(), ...params });
    expect(outcome(legacy)).toEqual([200, code]);
  });

  it("answers 409 with code 12 for a taken Username (any case) and 13 for a taken EmailAddress", async () => {
    const name = `u-${uniq()}`;
    const ok = await http.post("/api/v1/user", { Username: name, Password: "p", EmailAddress: `${name}@example.com` }, { AdminAPIKey: adminKey() });
    expect(ok.status).toBe(200);
    const dupName = await http.post("/api/v1/user", { Username: name.toUpperCase(), Password: "p", EmailAddress: `other-${name}@example.com` }, { AdminAPIKey: adminKey() });
    expect(outcome(dupName)).toEqual([409, 12]);
    expect(firstError(dupName)?.Message).toBe("Username already exists");
    const dupEmail = await http.post("/api/v1/user", { Username: `x-${name}`, Password: "p", EmailAddress: `${name}@EXAMPLE.com` }, { AdminAPIKey: adminKey() });
    expect(outcome(dupEmail)).toEqual([409, 13]);
  });

  it("refuses a user API key on an admin command, and a wrong admin key, with 401/99998", async () => {
    const user = await createUser();
    const body = { Username: `u-${uniq()}`, Password: "p", EmailAddress: `${uniq()}@example.com` };
    expect(outcome(await http.post("/api/v1/user", body, { APIKey: user.apiKey }))).toEqual([401, 99998]);
    expect(outcome(await http.post("/api/v1/user", body, { AdminAPIKey: "wrong-admin-key-000000" }))).toEqual([401, 99998]);
    expect(outcome(await http.post("/api/v1/user", body))).toEqual([401, 99998]);
  });

  it("refuses the admin key on a user command with 401/99998", async () => {
    expect(outcome(await http.post("/api/v1/journey", { Name: "x" }, { AdminAPIKey: adminKey() }))).toEqual([401, 99998]);
  });
});

describe("user.login", () => {
  it("logs in with Username and Password and the session works on user commands", async () => {
    const user = await createUser();
    const res = await http.post("/api/v1/user.login", { Username: user.username, Password: user.password });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ Success: true, ErrorCode: 0, UserInfo: { UserID: user.userId, Username: user.username, EmailAddress: user.email } });
    const session = String(res.body["SessionID"]);
    const created = await http.post("/api/v1/journey", { Name: "via session", SessionID: session });
    expect(created.status).toBe(200);
  });

  it("logs in with an APIKey alone (any parameter case)", async () => {
    const user = await createUser();
    const res = await http.legacy({ Command: "User.Login", apikey: user.apiKey });
    expect(res.status).toBe(200);
    expect(res.body["UserInfo"]).toMatchObject({ UserID: user.userId });
  });

  it.each([
    [{}, 1],
    [{ Password: "x" }, 1],
    [{ Username: "someone" }, 2],
  ])("rejects %j with code %i", async (params, code) => {
    expect(outcome(await http.post("/api/v1/user.login", params))).toEqual([422, code]);
  });

  it("answers code 3 for bad credentials: 401 on v1, 200 on /api.php", async () => {
    const user = await createUser();
    expect(outcome(await http.post("/api/v1/user.login", { Username: user.username, Password: "wrong" }))).toEqual([401, 3]);
    expect(outcome(await http.post("/api/v1/user.login", { APIKey: "no-such-key" }))).toEqual([401, 3]);
    expect(outcome(await http.legacy({ Command: "user.login", Username: user.username, Password: "wrong" }))).toEqual([200, 3]);
  });

  it("answers 401/99999 once a session has expired", async () => {
    const user = await createUser();
    const login = await http.post("/api/v1/user.login", { Username: user.username, Password: user.password });
    const session = String(login.body["SessionID"]);
    expect((await http.get("/api/v1/journeys", { SessionID: session, SkipStats: 1 })).status).toBe(200);
    await new Promise((r) => setTimeout(r, (inject("sessionTtlSeconds") + 1.2) * 1000));
    const expired = await http.get("/api/v1/journeys", { SessionID: session, SkipStats: 1 });
    expect(outcome(expired)).toEqual([401, 99999]);
    expect(firstError(expired)?.Message).toBe("Session expired");
    expect(outcome(await http.legacy({ Command: "journey.list", SessionID: session }))).toEqual([200, 99999]);
  });
});

describe("authentication on user commands", () => {
  it("answers 401/99998 with the reference message for a missing or unknown key or session", async () => {
    for (const auth of [{}, { APIKey: "nope" }, { SessionID: "nope" }]) {
      const res = await http.get("/api/v1/journeys", auth);
      expect(outcome(res)).toEqual([401, 99998]);
      expect(firstError(res)?.Message).toBe("Invalid API key or session");
    }
    expect(outcome(await http.legacy({ Command: "journey.list", APIKey: "nope" }))).toEqual([200, 99998]);
  });

  it("answers 403/403 Permission denied without Campaign.Create, and 200 on /api.php", async () => {
    const limited = await createUser("Campaign.Delete");
    const res = await limited.post("/api/v1/journey", { Name: "x" });
    expect(outcome(res)).toEqual([403, 403]);
    expect(firstError(res)?.Message).toBe("Permission denied");
    expect(outcome(await limited.legacy({ Command: "journey.create", Name: "x" }))).toEqual([200, 403]);
  });

  it("requires Campaign.Delete for journeys.delete", async () => {
    const creator = await createUser("Campaign.Create");
    const res = await creator.legacy({ Command: "journeys.delete", Journeys: "1" });
    expect(outcome(res)).toEqual([200, 403]);
    expect(res.body["ErrorCode"]).toEqual([403]);
  });
});
