import dc from "node:diagnostics_channel";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { postWebhook, webhookBody, webhookDeliveryId, WEBHOOK_USER_AGENT } from "../../shared/delivery/webhook.js";
import { hasOpenssl, selfSignedCert } from "../support/tls-cert.js";

/**
 * ENGINE §8.6 end to end against real receivers on 127.0.0.1: no network mock.
 * The guard's settings are read from the environment at each call, so each test
 * sets WEBHOOK_ALLOW_LOOPBACK / WEBHOOK_DNS_OVERRIDES and they are restored after.
 *
 * "No connection was opened" is observed two ways: the receiver counts the TCP
 * connections it accepts, and node's `net.client.socket` diagnostics channel
 * counts every client socket this process creates (so a refused 10.0.0.1, which
 * could never reach our receiver anyway, is still proven to open nothing).
 */

interface Seen {
  method: string;
  url: string;
  rawHeaders: string[];
  headers: http.IncomingHttpHeaders;
  body: string;
  remoteAddress: string;
  at: number;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

interface Receiver {
  port: number;
  url: (path?: string) => string;
  requests: Seen[];
  connections: { at: number }[];
  /** TLS only: the SNI each ClientHello carried. */
  sni: (string | undefined)[];
  handle: Handler;
  close: () => Promise<void>;
}

async function receiver(tls?: { key: string; cert: string }, bind = "127.0.0.1"): Promise<Receiver> {
  const r: Receiver = {
    port: 0,
    url: (path = "/hook") => `${tls ? "https" : "http"}://${bind.includes(":") ? `[${bind}]` : bind}:${r.port}${path}`,
    requests: [],
    connections: [],
    sni: [],
    handle: (_req, res) => res.end("ok"),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      r.requests.push({
        method: req.method!,
        url: req.url!,
        rawHeaders: req.rawHeaders,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        remoteAddress: req.socket.remoteAddress!,
        at: performance.now(),
      });
      r.handle(req, res, r.requests.length);
    });
  };
  const server: http.Server = tls
    ? https.createServer(
        {
          key: tls.key,
          cert: tls.cert,
          // Called with the ClientHello's server name, before the client judges the certificate.
          SNICallback: (servername, cb) => {
            r.sni.push(servername);
            cb(null);
          },
        },
        onRequest,
      )
    : http.createServer(onRequest);
  if (tls) {
    // SNICallback only runs when the client sends SNI; record its absence too.
    server.on("secureConnection", (s: TLSSocket) => {
      if (!s.servername) r.sni.push(undefined);
    });
  }
  server.on("connection", () => r.connections.push({ at: performance.now() }));
  await new Promise<void>((resolve) => server.listen(0, bind, () => resolve()));
  r.port = (server.address() as AddressInfo).port;
  return r;
}

let clientSockets = 0;
const countSocket = () => clientSockets++;
beforeAll(() => dc.subscribe("net.client.socket", countSocket));
afterAll(() => dc.unsubscribe("net.client.socket", countSocket));

const ENV_KEYS = ["WEBHOOK_ALLOW_LOOPBACK", "WEBHOOK_DNS_OVERRIDES"] as const;
let savedEnv: Record<string, string | undefined> = {};
beforeEach(() => {
  savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of ENV_KEYS) delete process.env[k];
  clientSockets = 0;
});
afterEach(() => {
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});
const allowLoopback = () => (process.env["WEBHOOK_ALLOW_LOOPBACK"] = "1");
const overrideDns = (map: Record<string, string>) => (process.env["WEBHOOK_DNS_OVERRIDES"] = JSON.stringify(map));

/**
 * Short backoffs for the tests that only count attempts (one test below keeps
 * §8.6's real deadlines). The deadline stays generous where the receiver does
 * answer, so a loaded machine cannot turn an answer into a Timeout and a retry.
 */
const FAST = { attemptTimeoutMs: 3000, backoffMs: [50, 50] };
const SHORT = { attemptTimeoutMs: 300, backoffMs: [50, 50] };

const subscriber = {
  PK: "U#12#SUB#456",
  SK: "S",
  SubscriberID: 456,
  ListID: 123,
  EmailAddress: "a@x.com",
  SubscriptionStatus: "Subscribed",
  CustomFields: { "7": "Gold" },
  Tags: [1, 4],
  Version: 2,
};
const body = webhookBody({ userId: 12, journeyId: 7, journeyName: "Welcome", actionId: 13, entryId: "01JH8Z3Q5C0000000000000000", subscriber, occurredAt: new Date("2026-01-05T09:00:03Z") });
const deliveryId = webhookDeliveryId("01JH8Z3Q5C0000000000000000", 13);

describe("Webhook over http to a loopback receiver (WEBHOOK_ALLOW_LOOPBACK=1)", () => {
  let rx: Receiver;
  beforeEach(async () => {
    rx = await receiver();
    allowLoopback();
  });
  afterEach(async () => rx.close());

  it("POSTs §8.6's body and headers, exactly", async () => {
    const result = await postWebhook(rx.url("/hook?token=abc"), body, deliveryId);
    expect(result).toMatchObject({ outcome: "Done", reason: "Delivered", detail: { Status: 200, Attempts: 1, Address: "127.0.0.1" } });
    expect(rx.requests).toHaveLength(1);
    const seen = rx.requests[0]!;
    expect(seen.method).toBe("POST");
    expect(seen.url).toBe("/hook?token=abc");
    const headers: [string, string][] = [];
    for (let i = 0; i < seen.rawHeaders.length; i += 2) headers.push([seen.rawHeaders[i]!.toLowerCase(), seen.rawHeaders[i + 1]!]);
    expect(Object.fromEntries(headers)).toEqual({
      host: `127.0.0.1:${rx.port}`,
      "content-type": "application/json; charset=utf-8",
      "user-agent": "JourneyAPI-Webhook/1",
      "x-journey-delivery": "01JH8Z3Q5C0000000000000000:13",
      "content-length": String(Buffer.byteLength(seen.body)),
      connection: "close",
    });
    expect(headers).toHaveLength(6);
    expect(WEBHOOK_USER_AGENT).toBe("JourneyAPI-Webhook/1");
    expect(seen.body).toBe(
      '{"Event":"journey.webhook","DeliveryID":"01JH8Z3Q5C0000000000000000:13","OccurredAt":"2026-01-05 09:00:03","UserID":12,' +
        '"JourneyID":7,"JourneyName":"Welcome","ActionID":13,"EntryID":"01JH8Z3Q5C0000000000000000","Subscriber":{"SubscriberID":456,' +
        '"ListID":123,"EmailAddress":"a@x.com","SubscriptionStatus":"Subscribed","PhoneNumber":"","CustomFields":{"7":"Gold"},"Tags":[1,4]}}',
    );
    // The positive control for the socket counter the refusal tests rely on.
    expect(clientSockets).toBe(1);
  });

  it("503 then 200 is Done with Attempts 2, after §8.6's 1 s backoff (±20 %)", async () => {
    rx.handle = (_req, res, n) => {
      res.statusCode = n === 1 ? 503 : 200;
      res.end();
    };
    const result = await postWebhook(rx.url(), body, deliveryId);
    expect(result).toMatchObject({ outcome: "Done", reason: "Delivered", detail: { Status: 200, Attempts: 2 } });
    expect(rx.requests.map((r) => r.headers["x-journey-delivery"])).toEqual([deliveryId, deliveryId]);
    const gap = rx.requests[1]!.at - rx.requests[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(790);
    expect(gap).toBeLessThan(2500);
    expect(result.detail.Ms).toBeGreaterThanOrEqual(790);
  });

  it("a 429 is retried", async () => {
    rx.handle = (_req, res, n) => {
      res.statusCode = n === 1 ? 429 : 204;
      res.end();
    };
    const result = await postWebhook(rx.url(), body, deliveryId, FAST);
    expect(result).toMatchObject({ outcome: "Done", detail: { Status: 204, Attempts: 2 } });
  });

  it("5xx on every attempt is HttpError with the last Status, after 3 attempts", async () => {
    rx.handle = (_req, res, n) => {
      res.statusCode = n < 3 ? 500 : 502;
      res.end();
    };
    const result = await postWebhook(rx.url(), body, deliveryId, FAST);
    expect(result).toMatchObject({ outcome: "Failed", reason: "HttpError", detail: { Status: 502, Attempts: 3 } });
    expect(rx.requests).toHaveLength(3);
  });

  it("a 404 is HttpError, never retried", async () => {
    rx.handle = (_req, res) => {
      res.statusCode = 404;
      res.end("no such hook");
    };
    const result = await postWebhook(rx.url(), body, deliveryId, FAST);
    expect(result).toMatchObject({ outcome: "Failed", reason: "HttpError", detail: { Status: 404, Attempts: 1 } });
    expect(rx.requests).toHaveLength(1);
  });

  it("a 302 is HttpError and its Location is never requested", async () => {
    rx.handle = (req, res) => {
      res.statusCode = 302;
      res.setHeader("Location", `http://127.0.0.1:${rx.port}/elsewhere`);
      res.end();
    };
    const result = await postWebhook(rx.url(), body, deliveryId, FAST);
    expect(result).toMatchObject({ outcome: "Failed", reason: "HttpError", detail: { Status: 302, Attempts: 1 } });
    // Give a follow-up request every chance to arrive before asserting it did not.
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.requests.map((r) => r.url)).toEqual(["/hook"]);
    expect(rx.connections).toHaveLength(1);
  });

  it("a receiver that never answers is Timeout after each attempt's deadline, 3 attempts", async () => {
    rx.handle = () => {
      /* never answers */
    };
    const result = await postWebhook(rx.url(), body, deliveryId, SHORT);
    expect(result).toMatchObject({ outcome: "Failed", reason: "Timeout", detail: { Attempts: 3, Address: "127.0.0.1" } });
    expect(rx.connections).toHaveLength(3);
    // 3 × 300 ms plus two jittered 50 ms waits.
    expect(result.detail.Ms).toBeGreaterThanOrEqual(3 * 300 + 2 * 40 - 20);
  });

  it(
    "§8.6's real deadlines: 5 s per attempt, backoff 1 s then 3 s (±20 %)",
    async () => {
      rx.handle = () => {
        /* never answers */
      };
      const result = await postWebhook(rx.url(), body, deliveryId);
      expect(result).toMatchObject({ outcome: "Failed", reason: "Timeout", detail: { Attempts: 3 } });
      const [c1, c2, c3] = rx.connections.map((c) => c.at) as [number, number, number];
      expect(rx.connections).toHaveLength(3);
      // Connection to connection: the 5 s deadline plus the jittered wait.
      // (The server's clock starts a little after the client's deadline does: some slack below.)
      expect(c2 - c1).toBeGreaterThanOrEqual(5000 + 800 - 100);
      expect(c2 - c1).toBeLessThan(5000 + 1200 + 1000);
      expect(c3 - c2).toBeGreaterThanOrEqual(5000 + 2400 - 100);
      expect(c3 - c2).toBeLessThan(5000 + 3600 + 1000);
      expect(result.detail.Ms).toBeGreaterThanOrEqual(15_000 + 3200 - 50);
    },
    40_000,
  );

  it("headers then a stalled body: the status decides once the deadline passes", async () => {
    rx.handle = (_req, res) => {
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.write("partial");
    };
    const result = await postWebhook(rx.url(), body, deliveryId, { attemptTimeoutMs: 1000 });
    expect(result).toMatchObject({ outcome: "Done", detail: { Status: 200, Attempts: 1 } });
    expect(result.detail.Ms).toBeGreaterThanOrEqual(980);
  });

  it("reads at most 64 KB of an answer, then drops the connection without waiting for the rest", async () => {
    const CAP = 64 * 1024 * 1024;
    let written = 0;
    let dropped = false;
    rx.handle = (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/octet-stream" });
      // An answer that never ends (up to 64 MB, so a broken client cannot run away with the test).
      const chunk = Buffer.alloc(64 * 1024, 120);
      const pump = () => {
        while (!dropped && written < CAP && res.write(chunk)) written += chunk.length;
      };
      res.on("drain", pump);
      res.on("close", () => (dropped = true));
      res.on("error", () => (dropped = true));
      pump();
    };
    const result = await postWebhook(rx.url(), body, deliveryId, { attemptTimeoutMs: 8000 });
    expect(result).toMatchObject({ outcome: "Done", detail: { Status: 200, Attempts: 1 } });
    // Stopped by the 64 KB cap, well before the 8 s deadline, and the receiver saw the connection go.
    expect(result.detail.Ms).toBeLessThan(6000);
    await expect.poll(() => dropped, { timeout: 5000 }).toBe(true);
    expect(written).toBeLessThan(CAP);
  });

  it("a closed port is ConnectError after 3 attempts", async () => {
    const url = rx.url();
    await rx.close();
    const result = await postWebhook(url, body, deliveryId, FAST);
    expect(result).toMatchObject({ outcome: "Failed", reason: "ConnectError", detail: { Attempts: 3 } });
    expect(result.detail.Error).toMatch(/ECONNREFUSED/);
    rx = await receiver(); // afterEach closes it
  });

  it("a name overridden to 127.0.0.1 is connected at that address, with Host and the path the URL's (no second resolution)", async () => {
    // hook.test exists in no DNS: had anything resolved the name again, the POST could not have arrived.
    overrideDns({ "hook.test": "127.0.0.1" });
    const result = await postWebhook(`http://hook.test:${rx.port}/in?a=1`, body, deliveryId);
    expect(result).toMatchObject({ outcome: "Done", detail: { Status: 200, Attempts: 1, Address: "127.0.0.1" } });
    expect(rx.requests).toHaveLength(1);
    expect(rx.requests[0]!.headers.host).toBe(`hook.test:${rx.port}`);
    expect(rx.requests[0]!.url).toBe("/in?a=1");
    expect(rx.requests[0]!.remoteAddress).toBe("127.0.0.1");
  });
});

describe("SSRF refusals open no connection", () => {
  let rx: Receiver;
  beforeEach(async () => {
    rx = await receiver();
  });
  afterEach(async () => rx.close());

  const refusals: { name: string; url: () => string; reason: string; address?: string; setup?: () => void }[] = [
    { name: "10.0.0.1", url: () => "https://10.0.0.1/", reason: "SsrfRefused", address: "10.0.0.1" },
    { name: "the metadata address", url: () => "https://169.254.169.254/latest/meta-data/", reason: "SsrfRefused", address: "169.254.169.254" },
    { name: "IPv4-mapped 10.0.0.1", url: () => "https://[::ffff:10.0.0.1]/", reason: "SsrfRefused", address: "::ffff:a00:1" },
    { name: "NAT64 of the metadata address", url: () => "https://[64:ff9b::169.254.169.254]/", reason: "SsrfRefused", address: "64:ff9b::a9fe:a9fe" },
    {
      name: "a name overridden to 192.168.1.1",
      url: () => "https://intranet.test/hook",
      reason: "SsrfRefused",
      address: "192.168.1.1",
      setup: () => overrideDns({ "intranet.test": "192.168.1.1" }),
    },
    { name: "http:// to a public name", url: () => "http://example.com/hook", reason: "SchemeRefused" },
    {
      name: "http:// to a public name, even with loopback allowed",
      url: () => "http://example.com/hook",
      reason: "SchemeRefused",
      setup: () => {
        allowLoopback();
        overrideDns({ "example.com": "93.184.215.14" });
      },
    },
    { name: "loopback with WEBHOOK_ALLOW_LOOPBACK off", url: () => `https://127.0.0.1:${rx.port}/hook`, reason: "SsrfRefused", address: "127.0.0.1" },
    { name: "::1 with WEBHOOK_ALLOW_LOOPBACK off", url: () => `https://[::1]:${rx.port}/hook`, reason: "SsrfRefused", address: "::1" },
    {
      name: "a name overridden to loopback, WEBHOOK_ALLOW_LOOPBACK off",
      url: () => `https://hook.test:${rx.port}/hook`,
      reason: "SsrfRefused",
      address: "127.0.0.1",
      setup: () => overrideDns({ "hook.test": "127.0.0.1" }),
    },
    { name: "http:// to loopback, WEBHOOK_ALLOW_LOOPBACK off", url: () => `http://127.0.0.1:${rx.port}/hook`, reason: "SchemeRefused" },
  ];

  for (const c of refusals) {
    it(`${c.name}: ${c.reason}`, async () => {
      c.setup?.();
      const result = await postWebhook(c.url(), body, deliveryId);
      expect(result.outcome).toBe("Failed");
      expect(result.reason).toBe(c.reason);
      expect(result.detail.Attempts).toBe(0);
      if (c.address) expect(result.detail.Address).toBe(c.address);
      expect(clientSockets).toBe(0);
      expect(rx.connections).toHaveLength(0);
    });
  }
});

/** A machine without IPv6 loopback (some CI containers) cannot run the ::1 test. */
async function ipv6Loopback(): Promise<boolean> {
  const probe = http.createServer();
  return new Promise((resolve) => {
    probe.once("error", () => resolve(false));
    probe.listen(0, "::1", () => probe.close(() => resolve(true)));
  });
}

describe("Webhook to ::1", async () => {
  const available = await ipv6Loopback();
  it.skipIf(!available)("a literal ::1 and a name overridden to ::1 are connected over IPv6, Host the URL's", async () => {
    const rx = await receiver(undefined, "::1");
    try {
      allowLoopback();
      overrideDns({ "six.test": "::1" });
      const literal = await postWebhook(rx.url(), body, deliveryId, FAST);
      expect(literal).toMatchObject({ outcome: "Done", detail: { Status: 200, Address: "::1" } });
      const named = await postWebhook(`http://six.test:${rx.port}/hook`, body, deliveryId, FAST);
      expect(named).toMatchObject({ outcome: "Done", detail: { Status: 200, Address: "::1" } });
      expect(rx.requests.map((r) => [r.headers.host, r.remoteAddress])).toEqual([
        [`[::1]:${rx.port}`, "::1"],
        [`six.test:${rx.port}`, "::1"],
      ]);
    } finally {
      await rx.close();
    }
  });
});

const generators = hasOpenssl() ? (["openssl", "crypto"] as const) : (["crypto"] as const);

describe.each(generators)("Webhook over TLS to 127.0.0.1 (certificate by %s)", (via) => {
  let rx: Receiver;
  let cert: { key: string; cert: string };
  beforeAll(() => {
    cert = selfSignedCert("hook.test", via);
  });
  beforeEach(async () => {
    rx = await receiver(cert);
    allowLoopback();
    overrideDns({ "hook.test": "127.0.0.1", "other.test": "127.0.0.1" });
  });
  afterEach(async () => rx.close());

  it("an untrusted (self-signed) certificate is TlsError, not retried; SNI was the URL's host name", async () => {
    const result = await postWebhook(`https://hook.test:${rx.port}/hook`, body, deliveryId, FAST);
    expect(result).toMatchObject({ outcome: "Failed", reason: "TlsError", detail: { Attempts: 1, Address: "127.0.0.1" } });
    expect(result.detail.Error).toMatch(/SELF_SIGNED|self-signed/i);
    expect(rx.sni).toEqual(["hook.test"]);
    expect(rx.requests).toHaveLength(0);
  });

  it("with the certificate trusted, the POST arrives: the certificate is checked against the name, not the address", async () => {
    const result = await postWebhook(`https://hook.test:${rx.port}/hook`, body, deliveryId, { ...FAST, ca: cert.cert });
    expect(result).toMatchObject({ outcome: "Done", detail: { Status: 200, Attempts: 1, Address: "127.0.0.1" } });
    expect(rx.sni).toEqual(["hook.test"]);
    expect(rx.requests[0]!.headers.host).toBe(`hook.test:${rx.port}`);
  });

  it("a trusted certificate for another name is TlsError", async () => {
    const result = await postWebhook(`https://other.test:${rx.port}/hook`, body, deliveryId, { ...FAST, ca: cert.cert });
    expect(result).toMatchObject({ outcome: "Failed", reason: "TlsError", detail: { Attempts: 1 } });
    expect(result.detail.Error).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    expect(rx.sni).toEqual(["other.test"]);
  });

  it("a literal IP host sends no SNI", async () => {
    const result = await postWebhook(`https://127.0.0.1:${rx.port}/hook`, body, deliveryId, FAST);
    expect(result).toMatchObject({ outcome: "Failed", reason: "TlsError" });
    expect(rx.sni).toEqual([]);
  });
});
