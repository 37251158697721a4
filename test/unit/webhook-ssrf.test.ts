import { BlockList } from "node:net";
import { describe, expect, it } from "vitest";
import {
  classifyAddress,
  guardSettings,
  LOOPBACK_IPV4,
  LOOPBACK_IPV6,
  parseIPv6,
  REFUSED_IPV4,
  REFUSED_IPV6,
  vetHost,
  type GuardSettings,
} from "../../shared/delivery/ssrf.js";
import { webhookBody } from "../../shared/delivery/webhook.js";

/** ENGINE §8.6's SSRF guard, without the network: the classifier, and vetHost on literal hosts and overrides. */

const cases = (list: [string, string][]) => list.map(([address, cls]) => ({ address, cls }));

describe("classifyAddress, IPv4: every range's first and last address, and its neighbours outside", () => {
  it.each(
    cases([
      ["0.0.0.0", "refused"], ["0.255.255.255", "refused"], ["1.0.0.0", "public"],
      ["9.255.255.255", "public"], ["10.0.0.0", "refused"], ["10.255.255.255", "refused"], ["11.0.0.0", "public"],
      ["100.63.255.255", "public"], ["100.64.0.0", "refused"], ["100.127.255.255", "refused"], ["100.128.0.0", "public"],
      ["126.255.255.255", "public"], ["127.0.0.0", "loopback"], ["127.0.0.1", "loopback"], ["127.255.255.255", "loopback"], ["128.0.0.0", "public"],
      ["169.253.255.255", "public"], ["169.254.0.0", "refused"], ["169.254.169.254", "refused"], ["169.254.255.255", "refused"], ["169.255.0.0", "public"],
      ["172.15.255.255", "public"], ["172.16.0.0", "refused"], ["172.31.255.255", "refused"], ["172.32.0.0", "public"],
      ["191.255.255.255", "public"], ["192.0.0.0", "refused"], ["192.0.0.255", "refused"], ["192.0.1.0", "public"],
      ["192.167.255.255", "public"], ["192.168.0.0", "refused"], ["192.168.1.1", "refused"], ["192.168.255.255", "refused"], ["192.169.0.0", "public"],
      ["198.17.255.255", "public"], ["198.18.0.0", "refused"], ["198.19.255.255", "refused"], ["198.20.0.0", "public"],
      ["223.255.255.255", "public"], ["224.0.0.0", "refused"], ["239.255.255.255", "refused"], ["240.0.0.0", "refused"], ["255.255.255.255", "refused"],
      ["8.8.8.8", "public"], ["1.1.1.1", "public"],
    ]),
  )("$address is $cls", ({ address, cls }) => {
    expect(classifyAddress(address)).toBe(cls);
  });
});

describe("classifyAddress, IPv6", () => {
  it.each(
    cases([
      ["::", "refused"], ["0:0:0:0:0:0:0:0", "refused"], ["::1", "loopback"], ["0:0:0:0:0:0:0:1", "loopback"], ["::2", "public"],
      ["fd00:ec2::254", "refused"], ["FD00:EC2:0:0:0:0:0:254", "refused"],
      ["fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "public"], ["fc00::", "refused"], ["fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "refused"], ["fe00::", "public"],
      ["fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "public"], ["fe80::", "refused"], ["fe80::1%eth0", "refused"], ["febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "refused"], ["fec0::", "public"],
      ["feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "public"], ["ff00::", "refused"], ["ff02::1", "refused"], ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "refused"],
      ["2606:4700::1111", "public"], ["2001:4860:4860::8888", "public"],
    ]),
  )("$address is $cls", ({ address, cls }) => {
    expect(classifyAddress(address)).toBe(cls);
  });

  it.each(
    cases([
      // IPv4-mapped, every textual form of one address, and the IPv4 edges through it.
      ["::ffff:10.0.0.1", "refused"], ["::ffff:0a00:0001", "refused"], ["::ffff:a00:1", "refused"], ["::FFFF:A00:1", "refused"],
      ["0:0:0:0:0:ffff:10.0.0.1", "refused"], ["0:0:0:0:0:ffff:a00:1", "refused"], ["0000:0000:0000:0000:0000:ffff:0a00:0001", "refused"],
      ["::ffff:169.254.169.254", "refused"], ["::ffff:a9fe:a9fe", "refused"], ["::ffff:0.0.0.0", "refused"], ["::ffff:192.168.1.1", "refused"],
      ["::ffff:9.255.255.255", "public"], ["::ffff:11.0.0.0", "public"], ["::ffff:8.8.8.8", "public"],
      // A mapped loopback reaches this host's loopback, so it is loopback.
      ["::ffff:127.0.0.1", "loopback"], ["::ffff:7f00:1", "loopback"],
      // NAT64: the translator reaches the IPv4 address; loopback there is not ours to allow.
      ["64:ff9b::a00:1", "refused"], ["64:ff9b::10.0.0.1", "refused"], ["64:ff9b:0:0:0:0:a9fe:a9fe", "refused"], ["64:ff9b::7f00:1", "refused"],
      ["64:ff9b::808:808", "public"], ["64:ff9b::8.8.8.8", "public"],
      // Just outside the /96 prefixes, the embedded bits mean nothing.
      ["64:ff9b::1:a00:1", "public"], ["::fffe:a00:1", "public"], ["::1:ffff:a00:1", "public"],
    ]),
  )("embedded IPv4: $address is $cls", ({ address, cls }) => {
    expect(classifyAddress(address)).toBe(cls);
  });

  it("throws on something that is not an IP address", () => {
    for (const bad of ["example.com", "10.0.0", "::ffff:010.0.0.1", "1::2::3", ""]) expect(() => classifyAddress(bad)).toThrow(/not an IP address/);
  });

  it("parses compressed, embedded and zoned forms to the same bytes", () => {
    const full = parseIPv6("0000:0000:0000:0000:0000:ffff:0a00:0001");
    for (const form of ["::ffff:10.0.0.1", "::ffff:a00:1", "0::ffff:10.0.0.1", "::ffff:0a00:0001%lo"]) expect(parseIPv6(form)).toEqual(full);
    expect(parseIPv6("1:2:3:4:5:6:7:8")).toEqual([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
    expect(parseIPv6("1::")).toEqual([0, 1, ...Array(14).fill(0)]);
  });
});

/**
 * An independent oracle: node:net's BlockList, built from the same CIDR lists,
 * must agree with the classifier on many addresses around every range's edges.
 */
describe("classifyAddress agrees with node:net's BlockList", () => {
  const v4 = new BlockList();
  for (const cidr of [...REFUSED_IPV4, LOOPBACK_IPV4]) v4.addSubnet(cidr.split("/")[0]!, Number(cidr.split("/")[1]), "ipv4");
  const v6 = new BlockList();
  for (const cidr of [...REFUSED_IPV6, LOOPBACK_IPV6]) v6.addSubnet(cidr.split("/")[0]!, Number(cidr.split("/")[1]), "ipv6");

  // A deterministic generator, so a failure reproduces.
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };

  it("IPv4: 20,000 addresses near every edge", () => {
    const edges = [...REFUSED_IPV4, LOOPBACK_IPV4].flatMap((cidr) => {
      const [a, bits] = cidr.split("/");
      const base = a!.split(".").reduce((n, o) => n * 256 + Number(o), 0);
      return [base, base + 2 ** (32 - Number(bits)) - 1];
    });
    const disagree: string[] = [];
    let refused = 0;
    for (let i = 0; i < 20_000; i++) {
      const n = (edges[rand(edges.length)]! + rand(512) - 256 + 2 ** 32) % 2 ** 32;
      const address = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
      const blocked = v4.check(address, "ipv4");
      if (blocked) refused++;
      if ((classifyAddress(address) !== "public") !== blocked) disagree.push(address);
    }
    expect(disagree).toEqual([]);
    // Both sides of the edges were really exercised.
    expect(refused).toBeGreaterThan(5000);
    expect(refused).toBeLessThan(15_000);
  });

  it("IPv6: 20,000 addresses near every edge", () => {
    const hex = (bytes: number[]) => Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16)).join(":");
    // Each range's first and last address.
    const edges = [...REFUSED_IPV6, LOOPBACK_IPV6].flatMap((cidr) => {
      const first = parseIPv6(cidr.split("/")[0]!)!;
      const bits = Number(cidr.split("/")[1]);
      const last = first.map((b, i) => b | (0xff >> Math.min(8, Math.max(0, bits - 8 * i))));
      return [first, last];
    });
    const disagree: string[] = [];
    let refused = 0;
    let checked = 0;
    for (let i = 0; i < 20_000; i++) {
      const bytes = [...edges[rand(edges.length)]!];
      // Disturb a byte of the prefix (mostly) or anywhere, so both sides of each edge are hit.
      const at = rand(3) === 0 ? rand(16) : rand(2);
      bytes[at] = (bytes[at]! + rand(5) - 2 + 256) % 256;
      if (rand(2)) bytes[15] = rand(256);
      const address = hex(bytes);
      // The embedded-IPv4 prefixes are the classifier's own business; BlockList has no NAT64 rule.
      if (/^(0:){5}ffff:|^64:ff9b:(0:){4}/.test(address)) continue;
      checked++;
      const blocked = v6.check(address, "ipv6");
      if (blocked) refused++;
      if ((classifyAddress(address) !== "public") !== blocked) disagree.push(address);
    }
    expect(disagree).toEqual([]);
    expect(checked).toBeGreaterThan(19_000);
    expect(refused).toBeGreaterThan(3000);
    expect(checked - refused).toBeGreaterThan(3000);
  });
});

describe("vetHost without DNS", () => {
  const settings = (allowLoopback = false, overrides: Record<string, string[]> = {}): GuardSettings => ({
    allowLoopback,
    dnsOverrides: new Map(Object.entries(overrides)),
  });

  it("refuses every scheme but https", async () => {
    for (const url of ["http://example.com/", "ftp://example.com/", "file:///etc/passwd", "not a url", "HTTP://8.8.8.8/"]) {
      expect((await vetHost(url, { settings: settings() })).ok ? "ok" : "refused", url).toBe("refused");
      const r = await vetHost(url, { settings: settings() });
      expect(!r.ok && r.reason).toBe("SchemeRefused");
    }
  });

  it("refuses private literal hosts in any form the URL parser accepts", async () => {
    const refused: [string, string][] = [
      ["https://10.0.0.1/", "10.0.0.1"],
      ["https://0x0a.0.0.1/", "10.0.0.1"],
      ["https://167772161/", "10.0.0.1"],
      ["https://169.254.169.254/latest/meta-data/", "169.254.169.254"],
      ["https://[::ffff:10.0.0.1]/", "::ffff:a00:1"],
      ["https://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe"],
      ["https://[fd00:ec2::254]/", "fd00:ec2::254"],
      ["https://127.0.0.1:8443/", "127.0.0.1"],
      ["https://0x7f.1/", "127.0.0.1"],
      ["https://[::1]/", "::1"],
    ];
    for (const [url, address] of refused) {
      expect(await vetHost(url, { settings: settings() }), url).toEqual({ ok: false, reason: "SsrfRefused", address });
    }
  });

  it("passes a public literal host, with its address and the name for SNI", async () => {
    const r = await vetHost("https://8.8.8.8/x", { settings: settings() });
    expect(r).toMatchObject({ ok: true, address: "8.8.8.8", family: 4, hostname: "8.8.8.8" });
    const r6 = await vetHost("https://[2606:4700::1111]:8443/x", { settings: settings() });
    expect(r6).toMatchObject({ ok: true, address: "2606:4700::1111", family: 6, hostname: "2606:4700::1111" });
  });

  it("refuses a name when ANY of its addresses is refused, and prefers IPv4 among vetted ones", async () => {
    const s = settings(false, { "mixed.test": ["8.8.8.8", "2606:4700::1111", "10.0.0.1"], "dual.test": ["2606:4700::1111", "1.1.1.1"] });
    expect(await vetHost("https://mixed.test/", { settings: s })).toEqual({ ok: false, reason: "SsrfRefused", address: "10.0.0.1" });
    expect(await vetHost("https://dual.test/", { settings: s })).toMatchObject({ ok: true, address: "1.1.1.1", hostname: "dual.test" });
  });

  it("WEBHOOK_ALLOW_LOOPBACK allows 127.0.0.0/8 and ::1, and http to them only", async () => {
    const s = settings(true, { "public.test": ["8.8.8.8"], "local.test": ["127.0.0.2"] });
    expect(await vetHost("https://127.0.0.1/", { settings: s })).toMatchObject({ ok: true, address: "127.0.0.1" });
    expect(await vetHost("http://[::1]:81/", { settings: s })).toMatchObject({ ok: true, address: "::1", family: 6 });
    expect(await vetHost("http://local.test/", { settings: s })).toMatchObject({ ok: true, address: "127.0.0.2", hostname: "local.test" });
    expect(await vetHost("http://public.test/", { settings: s })).toMatchObject({ ok: false, reason: "SchemeRefused" });
    // Only loopback: the private ranges stay refused, and so does loopback behind NAT64.
    expect(await vetHost("https://10.0.0.1/", { settings: s })).toEqual({ ok: false, reason: "SsrfRefused", address: "10.0.0.1" });
    expect(await vetHost("https://[64:ff9b::7f00:1]/", { settings: s })).toMatchObject({ ok: false, reason: "SsrfRefused" });
  });

  it("guardSettings reads the environment it is given, and rejects a malformed override map", () => {
    expect(guardSettings({})).toEqual({ allowLoopback: false, dnsOverrides: new Map() });
    expect(guardSettings({ WEBHOOK_ALLOW_LOOPBACK: "true" }).allowLoopback).toBe(false);
    const s = guardSettings({ WEBHOOK_ALLOW_LOOPBACK: "1", WEBHOOK_DNS_OVERRIDES: '{"Hook.Test": "127.0.0.1", "two.test": ["::1", "8.8.8.8"]}' });
    expect(s.allowLoopback).toBe(true);
    expect([...s.dnsOverrides]).toEqual([["hook.test", ["127.0.0.1"]], ["two.test", ["::1", "8.8.8.8"]]]);
    for (const bad of ["nope", "[]", '{"a": "not-an-ip"}', '{"a": []}', '{"a": 1}']) {
      expect(() => guardSettings({ WEBHOOK_DNS_OVERRIDES: bad }), bad).toThrow(/WEBHOOK_DNS_OVERRIDES/);
    }
  });
});

describe("webhookBody", () => {
  it("builds §8.6's body, in its key order, from a stored subscriber item", () => {
    const subscriber = {
      PK: "U#12#SUB#456",
      SK: "S",
      UserID: 12,
      SubscriberID: 456,
      ListID: 123,
      EmailAddress: "a@x.com",
      SubscriptionStatus: "Subscribed",
      SubscriptionDate: "2026-01-01 00:00:00",
      CustomFields: { "7": "Gold" },
      Tags: [1, 4],
      BounceType: "Not Bounced",
      Version: 3,
      Outbox: {},
    };
    const body = webhookBody({
      userId: 12,
      journeyId: 7,
      journeyName: "Welcome",
      actionId: 13,
      entryId: "01JH0000000000000000000000",
      subscriber,
      occurredAt: new Date("2026-01-05T09:00:03.640Z"),
    });
    expect(JSON.stringify(body)).toBe(
      '{"Event":"journey.webhook","DeliveryID":"01JH0000000000000000000000:13","OccurredAt":"2026-01-05 09:00:03","UserID":12,' +
        '"JourneyID":7,"JourneyName":"Welcome","ActionID":13,"EntryID":"01JH0000000000000000000000","Subscriber":{"SubscriberID":456,' +
        '"ListID":123,"EmailAddress":"a@x.com","SubscriptionStatus":"Subscribed","PhoneNumber":"","CustomFields":{"7":"Gold"},"Tags":[1,4]}}',
    );
    const withPhone = webhookBody({ userId: 1, journeyId: 2, journeyName: "J", actionId: 3, entryId: "E", occurredAt: new Date(0), subscriber: { ...subscriber, PhoneNumber: "+447700900123", CustomFields: undefined, Tags: undefined } });
    expect(withPhone.Subscriber).toMatchObject({ PhoneNumber: "+447700900123", CustomFields: {}, Tags: [] });
  });
});
