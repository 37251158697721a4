import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { WEB_ASSETS_SUBDIR } from "../../shared/web.js";

/**
 * The web Lambda: serves /docs, /console and /openapi.json as static files built by
 * infra/web-assets.ts. It is its own function so the API functions' bundles carry
 * none of it, and it touches no table, queue or secret.
 *
 * Deployed, the files sit beside this bundle (`web/`); locally the stack points
 * WEB_ASSETS_DIR at the directory it built them into.
 */
type Result = APIGatewayProxyStructuredResultV2;

const root = (): string => {
  const dir = process.env["WEB_ASSETS_DIR"];
  return dir ? `${dir.replace(/\/$/, "")}/` : new URL(`./${WEB_ASSETS_SUBDIR}/`, import.meta.url).pathname;
};

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json; charset=utf-8",
  png: "image/png",
  svg: "image/svg+xml",
};

/**
 * No inline script and no remote origin on either page. The reference (Swagger UI)
 * sets inline style attributes, so it alone may use inline styles; the console
 * styles only through its stylesheet and the CSSOM.
 */
const csp = (inlineStyles: boolean) =>
  [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self'${inlineStyles ? " 'unsafe-inline'" : ""}`,
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");

/** URL path to file under the assets root; undefined when it names no servable file. */
export function fileFor(path: string): string | undefined {
  if (path === "/docs" || path === "/docs/") return "docs/index.html";
  if (path === "/console" || path === "/console/") return "console/index.html";
  if (path === "/openapi.json") return "openapi.json";
  // One flat directory per page: a name, never a path, so nothing outside it can be reached.
  const m = /^\/(docs|console)\/([A-Za-z0-9_-][A-Za-z0-9._-]*)$/.exec(path);
  return m && !m[2]!.includes("..") ? `${m[1]}/${m[2]}` : undefined;
}

interface Loaded {
  body: Buffer;
  gzipped: Buffer;
}
// Files never change inside one container, so each is read and compressed once.
const cache = new Map<string, Loaded | null>();
function load(file: string): Loaded | null {
  if (!cache.has(file)) {
    try {
      const body = readFileSync(root() + file);
      cache.set(file, { body, gzipped: gzipSync(body) });
    } catch {
      cache.set(file, null);
    }
  }
  return cache.get(file) ?? null;
}

export async function handler(event: APIGatewayProxyEventV2): Promise<Result> {
  const method = event.requestContext?.http?.method?.toUpperCase() ?? "GET";
  const path = event.rawPath ?? "/";
  const file = fileFor(path);
  const loaded = file ? load(file) : null;
  const headers: Record<string, string> = {
    "Content-Security-Policy": csp(path.startsWith("/docs")),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    // Names are not content-hashed, so the browser revalidates rather than keeps a stale console.
    "Cache-Control": "no-cache",
  };
  if (method !== "GET" && method !== "HEAD") {
    return { statusCode: 405, headers: { ...headers, Allow: "GET, HEAD", "Content-Type": "text/plain; charset=utf-8" }, body: "Method not allowed" };
  }
  if (!file || !loaded) {
    return { statusCode: 404, headers: { ...headers, "Content-Type": "text/plain; charset=utf-8" }, body: "Not found" };
  }
  headers["Content-Type"] = TYPES[file.slice(file.lastIndexOf(".") + 1)] ?? "application/octet-stream";
  const gzip = /\bgzip\b/i.test(event.headers?.["accept-encoding"] ?? "");
  if (gzip) {
    headers["Content-Encoding"] = "gzip";
    headers["Vary"] = "Accept-Encoding";
  }
  const body = gzip ? loaded.gzipped : loaded.body;
  return { statusCode: 200, headers, body: method === "HEAD" ? "" : body.toString("base64"), isBase64Encoded: true };
}
