import { createHash } from "node:crypto";

/**
 * What the one-click unsubscribe route answers (ENGINE §8.4): a small page for GET,
 * short plain text otherwise. The page has no script at all and loads nothing: its
 * one style block is allowed by its hash, and its form posts back to the page's own
 * URL (no `action`, so the token is never written into the markup).
 */

const STYLE = [
  "body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2933;background:#f5f7fa}",
  "main{max-width:28rem;margin:12vh auto;padding:2rem;background:#fff;border:1px solid #d9e2ec;border-radius:8px}",
  "h1{margin:0 0 .5rem;font-size:1.4rem}",
  "p{margin:0 0 1.5rem}",
  "button{font:inherit;padding:.6rem 1.4rem;border:0;border-radius:6px;background:#1f5fbf;color:#fff;cursor:pointer}",
  "button:hover,button:focus-visible{background:#174a94}",
].join("");

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Unsubscribe</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>Unsubscribe</h1>
<p>Stop receiving these emails? Confirm with the button below.</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>
</main>
</body>
</html>
`;

/**
 * Nothing but the style block above and a form back to this origin: no script, no
 * other resource, no framing, no base URL. Sent with every answer, text ones too.
 */
export const UNSUBSCRIBE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash("sha256").update(STYLE, "utf8").digest("base64")}'`,
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

export interface Page {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const headers = (type: string): Record<string, string> => ({
  "Content-Type": type,
  "Content-Security-Policy": UNSUBSCRIBE_CSP,
  "X-Content-Type-Options": "nosniff",
  // The URL holds the token: no Referer carries it elsewhere, and no cache keeps the page.
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
  "X-Robots-Tag": "noindex",
});

const text = (statusCode: number, body: string): Page => ({ statusCode, headers: headers("text/plain; charset=utf-8"), body });

export const confirmPage = (): Page => ({ statusCode: 200, headers: headers("text/html; charset=utf-8"), body: PAGE });
export const unsubscribedText = (): Page => text(200, "You have been unsubscribed.");
export const notValidText = (): Page => text(404, "Link not valid.");
export const failedText = (): Page => text(500, "Something went wrong. Please try again later.");
