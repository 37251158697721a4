/**
 * The browser pages: the API reference at /docs, the journey console at /console,
 * and the OpenAPI document they read. They are not commands, so they are not in
 * the command registry, but the CDK stack and the local gateway both route them
 * from this one list, as they do the registry's routes.
 *
 * `path` is API Gateway's route syntax; `prefix` is how the local gateway matches it.
 */
export const WEB_ROUTES = [
  { path: "/docs", prefix: false },
  { path: "/docs/{proxy+}", prefix: true },
  { path: "/console", prefix: false },
  { path: "/console/{proxy+}", prefix: true },
  { path: "/openapi.json", prefix: false },
] as const;

/** Whether a GET on `pathname` belongs to the web function. */
export function isWebPath(pathname: string): boolean {
  return WEB_ROUTES.some((r) => (r.prefix ? pathname.startsWith(r.path.replace("{proxy+}", "")) : pathname === r.path));
}

/** Where the web handler finds its files when WEB_ASSETS_DIR is not set: beside the bundled handler. */
export const WEB_ASSETS_SUBDIR = "web";
