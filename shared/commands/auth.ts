import * as z from "zod/mini";
import { document } from "../command-docs.js";
import { defineCommand, type Permission } from "../command.js";
import { loadConfig } from "../config.js";
import { CommandError, validation } from "../errors.js";
import { isEmailAddress } from "../domain/email-address.js";
import { createSession, createUser, principalByApiKey, principalByPassword } from "../domain/users/users.js";
import { field, fail, isAbsent, requiredText, toText } from "../params.js";

/** user.create and user.login (CONTRACT §5). */

const PERMISSIONS: readonly Permission[] = ["Campaign.Create", "Campaign.Delete"];

const permissionsField = field(
  { type: "array|string", description: "Comma list or array of Campaign.Create, Campaign.Delete (default: both)" },
  (v, ctx): Permission[] => {
    if (isAbsent(v)) return [...PERMISSIONS];
    const tokens = Array.isArray(v) ? v : typeof v === "string" ? v.split(",") : [v];
    const out = new Set<Permission>();
    for (const t of tokens) {
      const name = typeof t === "string" ? PERMISSIONS.find((p) => p.toLowerCase() === t.trim().toLowerCase()) : undefined;
      if (!name) return fail(ctx, v, [17, "Invalid Permissions parameter"]);
      out.add(name);
    }
    return out.size > 0 ? [...out] : fail(ctx, v, [17, "Invalid Permissions parameter"]);
  },
);

const EMAIL_CODES = [
  [2, "Missing EmailAddress parameter"],
  [10, "Invalid email address format"],
] as const;
const emailField = field({ type: "string", required: true, codes: EMAIL_CODES }, (v, ctx) => {
  if (isAbsent(v)) return fail(ctx, v, EMAIL_CODES[0]);
  return isEmailAddress(v) ? v : fail(ctx, v, EMAIL_CODES[1]);
});

export const userCreate = defineCommand({
  name: "user.create",
  route: { method: "POST", path: "/api/v1/user" },
  // Admin commands share a Lambda: only it (and /api.php) may read the admin key.
  group: "admin",
  scope: "admin",
  params: z.object({
    Username: requiredText([3, "Missing Username parameter"], {
      invalid: [3, "Invalid Username parameter (1 to 255 characters)"],
      max: 255,
    }),
    Password: requiredText([4, "Missing Password parameter"], {
      invalid: [4, "Invalid Password parameter (at most 1024 characters)"],
      max: 1024,
    }),
    EmailAddress: emailField,
    Permissions: permissionsField,
  }),
  async run(p, ctx) {
    const { userId, apiKey } = await createUser({
      username: p.Username.trim(),
      password: p.Password,
      email: p.EmailAddress,
      permissions: p.Permissions,
      now: ctx.now,
    });
    return { ErrorCode: 0, UserID: userId, APIKey: apiKey };
  },
});
DOCS: document(userCreate, {
  summary: "Create a user and its first API key (admin)",
});

const optionalSecret = field({ type: "string" }, (v) => toText(v));

export const userLogin = defineCommand({
  name: "user.login",
  route: { method: "POST", path: "/api/v1/user.login" },
  group: "auth",
  scope: "none",
  // Failed logins are rate limited per Username (or per key) like any other call.
  rateLimitKey: (params) => {
    const username = toText(params.get("username"));
    if (username) return `login:${username.trim().toLowerCase()}`;
    const key = toText(params.get("apikey"));
    return key ? `login-key:${key}` : undefined;
  },
  params: z.object({ Username: optionalSecret, Password: optionalSecret, APIKey: optionalSecret }),
  async run(p, ctx) {
    const invalid = () => new CommandError(3, "Invalid credentials", "auth");
    let principal;
    if (!p.Username && p.APIKey) {
      principal = await principalByApiKey(p.APIKey);
    } else {
      if (!p.Username) throw new CommandError(1, "Missing username", "validation");
      if (!p.Password) throw new CommandError(2, "Missing password", "validation");
      principal = await principalByPassword(p.Username.trim(), p.Password);
    }
    if (!principal) throw invalid();
    const sessionId = await createSession(principal, loadConfig().SESSION_TTL_SECONDS, ctx.now);
    return {
      ErrorCode: 0,
      SessionID: sessionId,
      UserInfo: { UserID: principal.UserID, Username: principal.Username, EmailAddress: principal.EmailAddress },
    };
  },
});
DOCS: document(userLogin, {
  summary: "Log in with Username and Password, or with an APIKey alone; returns a SessionID",
  errors: [validation(1, "Missing username"), validation(2, "Missing password"), new CommandError(3, "Invalid credentials", "auth")],
});

export const authCommands = [userLogin];
