import { Resolver } from "node:dns/promises";
import { isIP, isIPv4, isIPv6 } from "node:net";

/**
 * The webhook's SSRF guard (ENGINE §8.6). A journey's owner chooses WebhookURL, so
 * without this guard a webhook could make our Lambda POST into the VPC, the
 * metadata service or localhost. The rule: only `https:`, and every A and AAAA
 * record of the host must be a public address; the caller then connects to the
 * vetted address itself, so a second resolution (DNS rebinding) cannot move it.
 *
 * Addresses are parsed to bytes here rather than matched with node:net's
 * BlockList, because the guard must also look inside IPv6 forms that carry an
 * IPv4 address (IPv4-mapped ::ffff:0:0/96 and NAT64 64:ff9b::/96), and must say
 * which range matched for WEBHOOK_ALLOW_LOOPBACK. The unit test checks this parser
 * against a BlockList built from the same ranges, so the two can never drift.
 */

/** What an address is, for the guard. `loopback` is refused unless WEBHOOK_ALLOW_LOOPBACK=1. */
export type AddressClass = "public" | "loopback" | "refused";

interface Range {
  /** The network address, as 4 or 16 bytes. */
  net: number[];
  bits: number;
  cidr: string;
}

const v4Range = (cidr: string): Range => {
  const [addr, bits] = cidr.split("/") as [string, string];
  return { net: parseIPv4(addr)!, bits: Number(bits), cidr };
};
const v6Range = (cidr: string): Range => {
  const [addr, bits] = cidr.split("/") as [string, string];
  return { net: parseIPv6(addr)!, bits: Number(bits), cidr };
};

/** §8.6's refused IPv4 ranges; 127.0.0.0/8 is listed apart, as it alone can be allowed locally. */
export const REFUSED_IPV4 = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "100.64.0.0/10",
  "169.254.0.0/16",
  "192.0.0.0/24",
  "198.18.0.0/15",
  "224.0.0.0/4",
  "240.0.0.0/4",
] as const;
export const LOOPBACK_IPV4 = "127.0.0.0/8";

/** §8.6's refused IPv6 addresses and ranges; ::1 is apart, like 127.0.0.0/8. */
export const REFUSED_IPV6 = ["::/128", "fd00:ec2::254/128", "fc00::/7", "fe80::/10", "ff00::/8"] as const;
export const LOOPBACK_IPV6 = "::1/128";

/** IPv6 prefixes whose last 32 bits are an IPv4 address that the packet really goes to. */
const MAPPED = v6Range("::ffff:0:0/96");
const NAT64 = v6Range("64:ff9b::/96");

const refused4 = REFUSED_IPV4.map(v4Range);
const loopback4 = v4Range(LOOPBACK_IPV4);
const refused6 = REFUSED_IPV6.map(v6Range);
const loopback6 = v6Range(LOOPBACK_IPV6);

function inRange(bytes: number[], r: Range): boolean {
  if (bytes.length !== r.net.length) return false;
  for (let bit = 0; bit < r.bits; bit += 8) {
    const i = bit / 8;
    const take = Math.min(8, r.bits - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if ((bytes[i]! & mask) !== (r.net[i]! & mask)) return false;
  }
  return true;
}

/** Dotted-quad IPv4 as 4 bytes; undefined when it is not one (node:net's strict rule: no octal, no short forms). */
export function parseIPv4(text: string): number[] | undefined {
  if (!isIPv4(text)) return undefined;
  return text.split(".").map(Number);
}

/** IPv6 in any textual form (compressed, embedded dotted quad, zone ID) as 16 bytes; undefined when it is not one. */
export function parseIPv6(text: string): number[] | undefined {
  if (!isIPv6(text)) return undefined;
  // A zone ID (fe80::1%eth0) names an interface, not part of the address.
  let s = text.split("%")[0]!.toLowerCase();
  // A trailing dotted quad stands for the last two groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (quad) {
    const b = parseIPv4(quad[1]!);
    if (!b) return undefined;
    s = s.slice(0, quad.index) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== 8)) return undefined;
  const groups = [...head, ...Array<string>(fill).fill("0"), ...tail];
  if (groups.length !== 8) return undefined;
  const bytes: number[] = [];
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return undefined;
    const v = parseInt(g, 16);
    bytes.push(v >> 8, v & 0xff);
  }
  return bytes;
}

function classify4(b: number[]): AddressClass {
  if (inRange(b, loopback4)) return "loopback";
  return refused4.some((r) => inRange(b, r)) ? "refused" : "public";
}

/**
 * Classifies an IP address (either family, any textual form). An IPv4-mapped
 * address is the IPv4 address it maps (the kernel sends it there); a NAT64 one
 * is refused when its IPv4 address is refused or loopback (the translator, not
 * this host, would reach it, so WEBHOOK_ALLOW_LOOPBACK does not apply). Throws
 * on something that is not an IP address: the callers only pass addresses.
 */
export function classifyAddress(address: string): AddressClass {
  const v4 = parseIPv4(address);
  if (v4) return classify4(v4);
  const v6 = parseIPv6(address);
  if (!v6) throw new Error(`not an IP address: ${address}`);
  if (inRange(v6, MAPPED)) return classify4(v6.slice(12));
  if (inRange(v6, NAT64)) return classify4(v6.slice(12)) === "public" ? "public" : "refused";
  if (inRange(v6, loopback6)) return "loopback";
  return refused6.some((r) => inRange(v6, r)) ? "refused" : "public";
}

// ---- Settings (local only) ----

export interface GuardSettings {
  /** WEBHOOK_ALLOW_LOOPBACK=1: 127.0.0.0/8 and ::1 are allowed, and `http:` to them. */
  allowLoopback: boolean;
  /** WEBHOOK_DNS_OVERRIDES: lower-case host → its addresses, used instead of DNS. */
  dnsOverrides: Map<string, string[]>;
}

/**
 * Reads the local-only settings from the environment at each call, so a test can
 * set and restore them. Never set on AWS (the stack test asserts it). A malformed
 * WEBHOOK_DNS_OVERRIDES throws: it is a broken local setup, not a delivery outcome.
 * A value may be one address or an array of them (to test the any-address rule).
 */
export function guardSettings(env: NodeJS.ProcessEnv = process.env): GuardSettings {
  const dnsOverrides = new Map<string, string[]>();
  const raw = env["WEBHOOK_DNS_OVERRIDES"];
  if (raw) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new Error("WEBHOOK_DNS_OVERRIDES must be a JSON object of host → IP address");
    }
    for (const [host, value] of Object.entries(parsed)) {
      const list = Array.isArray(value) ? value : [value];
      if (list.length === 0 || !list.every((a) => typeof a === "string" && isIP(a) !== 0)) {
        throw new Error(`WEBHOOK_DNS_OVERRIDES: ${host} must map to an IP address or an array of them`);
      }
      dnsOverrides.set(host.toLowerCase(), list as string[]);
    }
  }
  return { allowLoopback: env["WEBHOOK_ALLOW_LOOPBACK"] === "1", dnsOverrides };
}

// ---- vetHost ----

export type VetResult =
  | {
      ok: true;
      url: URL;
      /** The address to connect to; nothing may resolve the host again. */
      address: string;
      family: 4 | 6;
      /** The URL's host name without IPv6 brackets: what SNI and the certificate check use. */
      hostname: string;
    }
  | { ok: false; reason: "SchemeRefused" | "SsrfRefused"; address?: string; error?: string }
  /** The host could not be resolved: a connection error, which the client may retry. */
  | { ok: false; reason: "ConnectError"; error: string };

const NO_RECORDS = new Set(["ENODATA", "ENOTFOUND", "ENONAME"]);

/**
 * Every A and AAAA record of a name. Why resolve4/resolve6 and not
 * lookup({all: true}): lookup is getaddrinfo, which may drop AAAA records on a
 * host without IPv6 (AI_ADDRCONFIG), consults /etc/hosts, and blocks one of
 * libuv's four threads; the resolver asks DNS for both record types, all of
 * them, asynchronously, and can be cancelled at the attempt's deadline. "No
 * records" of one type is normal; any other failure (SERVFAIL, timeout) means the
 * records are not all known, so the name is not vetted.
 */
async function resolveAll(hostname: string, signal?: AbortSignal): Promise<string[]> {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  const cancel = () => resolver.cancel();
  signal?.addEventListener("abort", cancel, { once: true });
  try {
    const [a, aaaa] = await Promise.allSettled([resolver.resolve4(hostname), resolver.resolve6(hostname)]);
    const out: string[] = [];
    for (const r of [a, aaaa]) {
      if (r.status === "fulfilled") out.push(...r.value);
      else if (!NO_RECORDS.has((r.reason as NodeJS.ErrnoException).code ?? "")) throw r.reason;
    }
    if (out.length === 0) throw Object.assign(new Error(`no A or AAAA record for ${hostname}`), { code: "ENOTFOUND" });
    return out;
  } finally {
    signal?.removeEventListener("abort", cancel);
  }
}

/**
 * Vets a webhook URL (§8.6): the scheme, then every address of its host. A
 * literal IP host is checked as it is. When the host has several addresses, an
 * IPv4 one is chosen to connect to (Lambda outside a dual-stack VPC has no IPv6
 * egress); all of them must pass either way, so a name cannot smuggle a private
 * address in beside a public one.
 */
export async function vetHost(rawUrl: string, opts: { signal?: AbortSignal; settings?: GuardSettings } = {}): Promise<VetResult> {
  const settings = opts.settings ?? guardSettings();
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { ok: false, reason: "SchemeRefused", error: "not a valid URL" };
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && settings.allowLoopback)) {
    return { ok: false, reason: "SchemeRefused", error: `scheme ${url.protocol} not allowed` };
  }
  // The URL parser has already canonicalised the host: 0x7f.1 and 2130706433 are 127.0.0.1 here.
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  let addresses: string[];
  if (isIP(hostname) !== 0) addresses = [hostname];
  else {
    const override = settings.dnsOverrides.get(hostname.toLowerCase());
    if (override) addresses = override;
    else {
      try {
        addresses = await resolveAll(hostname, opts.signal);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        return { ok: false, reason: "ConnectError", error: `${e.code ?? "DNS"}: ${e.message}` };
      }
    }
  }
  for (const address of addresses) {
    const cls = classifyAddress(address);
    if (cls === "refused" || (cls === "loopback" && !settings.allowLoopback)) {
      return { ok: false, reason: "SsrfRefused", address };
    }
  }
  // Plain http is a local convenience for a test receiver on this host, nothing more.
  if (url.protocol === "http:" && !addresses.every((a) => classifyAddress(a) === "loopback")) {
    return { ok: false, reason: "SchemeRefused", error: "http: is allowed only to loopback" };
  }
  const address = addresses.find((a) => isIP(a) === 4) ?? addresses[0]!;
  return { ok: true, url, address, family: isIP(address) as 4 | 6, hostname };
}
