import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes, sign, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A throwaway self-signed certificate for a TLS receiver in tests, made at test
 * time so no key is ever committed. openssl when the machine has it; otherwise a
 * minimal X.509 v3 certificate (P-256, one DNS subjectAltName) encoded here and
 * signed with node:crypto, so the TLS tests also run where openssl is absent.
 */
export interface TestCert {
  key: string;
  cert: string;
  via: "openssl" | "crypto";
}

export function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export function selfSignedCert(hostname: string, via: "openssl" | "crypto" = hasOpenssl() ? "openssl" : "crypto"): TestCert {
  const made = via === "openssl" ? withOpenssl(hostname) : withCrypto(hostname);
  // Either way, the certificate must name the host, or the tests would prove nothing.
  if (!new X509Certificate(made.cert).checkHost(hostname)) throw new Error(`certificate does not name ${hostname}`);
  return made;
}

function withOpenssl(hostname: string): TestCert {
  const dir = mkdtempSync(join(tmpdir(), "webhook-cert-"));
  try {
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
        "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-subj", `/CN=${hostname}`, "-addext", `subjectAltName=DNS:${hostname}`],
      { stdio: "ignore" },
    );
    return { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8"), via: "openssl" };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- DER, just enough for one certificate ----

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}
const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split(".").map(Number) as [number, number, ...number[]];
  const bytes = [a * 40 + b];
  for (const v of rest) {
    const chunk = [v & 0x7f];
    for (let x = v >> 7; x > 0; x >>= 7) chunk.unshift((x & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}
const utcTime = (d: Date) => tlv(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z", "ascii"));
const name = (cn: string) => seq(tlv(0x31, seq(oid("2.5.4.3"), tlv(0x0c, Buffer.from(cn, "utf8")))));

function withCrypto(hostname: string): TestCert {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ecdsaSha256 = seq(oid("1.2.840.10045.4.3.2"));
  const serial = randomBytes(8);
  serial[0]! &= 0x7f; // a positive INTEGER
  const now = Date.now();
  const san = seq(oid("2.5.29.17"), tlv(0x04, seq(tlv(0x82, Buffer.from(hostname, "ascii")))));
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // v3
    tlv(0x02, serial),
    ecdsaSha256,
    name(hostname),
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 2 * 86400_000))),
    name(hostname),
    publicKey.export({ type: "spki", format: "der" }),
    tlv(0xa3, seq(san)),
  );
  const signature = sign("sha256", tbs, privateKey);
  const der = seq(tbs, ecdsaSha256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const cert = `-----BEGIN CERTIFICATE-----\n${der.toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END CERTIFICATE-----\n`;
  return { key: privateKey.export({ type: "pkcs8", format: "pem" }) as string, cert, via: "crypto" };
}
