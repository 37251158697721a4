import type { Construct } from "constructs";

/**
 * Delivery's stack context (ENGINE §8.1, §10): `senderDomains` becomes the runner's
 * `SENDER_DOMAINS`, and each domain's SES identity is the only one the runner may
 * send from. Checked at synth, so a typo fails `cdk deploy` rather than every send.
 *
 *   cdk deploy -c senderDomains='{"0":{"Domain":"news.example.com"},"2":{"Domain":"shop.example.com","Users":[12,14]}}'
 */
export interface SenderDomainConfig {
  Domain: string;
  Users?: number[];
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

export function senderDomainsFromContext(scope: Construct): Record<string, SenderDomainConfig> {
  const raw: unknown = scope.node.tryGetContext("senderDomains");
  if (raw === undefined || raw === "") return {};
  const parsed: unknown = typeof raw === "string" ? JSON.parse(raw) : raw;
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("senderDomains must be a JSON object of SenderDomainID → {Domain, Users?}");
  const out: Record<string, SenderDomainConfig> = {};
  for (const [id, entry] of Object.entries(parsed as Record<string, unknown>)) {
    if (!/^\d+$/.test(id)) throw new Error(`senderDomains: "${id}" is not a SenderDomainID`);
    const e = entry as { Domain?: unknown; Users?: unknown };
    if (typeof e?.Domain !== "string" || !DOMAIN.test(e.Domain)) throw new Error(`senderDomains["${id}"].Domain must be a domain name`);
    if (e.Users !== undefined && (!Array.isArray(e.Users) || !e.Users.every((u) => Number.isInteger(u) && u > 0))) {
      throw new Error(`senderDomains["${id}"].Users must be a list of UserIDs`);
    }
    out[id] = { Domain: e.Domain.toLowerCase(), ...(e.Users ? { Users: e.Users as number[] } : {}) };
  }
  return out;
}
