/**
 * Public routes: reached without credentials, outside the command registry (never
 * through /api.php), each served by a function of its own. Like the registry and
 * the web pages (shared/web.ts), this one list feeds both the CDK stack's HTTP API
 * routes and the local gateway, so the two cannot disagree.
 *
 * `path` is API Gateway's route syntax: `{name}` matches one non-empty path segment.
 */
export const PUBLIC_ROUTES = [
  // One-click unsubscribe (ENGINE §8.4): the signed token is the only credential.
  { target: "unsubscribe", method: "GET", path: "/unsubscribe/{token}" },
  { target: "unsubscribe", method: "POST", path: "/unsubscribe/{token}" },
] as const;

export type PublicTarget = (typeof PUBLIC_ROUTES)[number]["target"];

export interface PublicMatch {
  target: PublicTarget;
  /** API Gateway's routeKey: the route's pattern, never the request's own path. */
  routeKey: string;
  pathParameters: Record<string, string>;
}

/** The public route a request takes, as API Gateway would match it; undefined: none. */
export function matchPublicRoute(method: string, pathname: string): PublicMatch | undefined {
  const given = pathname.split("/");
  for (const r of PUBLIC_ROUTES) {
    if (r.method !== method) continue;
    const pattern = r.path.split("/");
    if (pattern.length !== given.length) continue;
    const pathParameters: Record<string, string> = {};
    const matches = pattern.every((seg, i) => {
      const name = /^\{(\w+)\}$/.exec(seg)?.[1];
      if (!name) return seg === given[i];
      if (!given[i]) return false;
      try {
        pathParameters[name] = decodeURIComponent(given[i]!);
      } catch {
        return false;
      }
      return true;
    });
    if (matches) return { target: r.target, routeKey: `${r.method} ${r.path}`, pathParameters };
  }
  return undefined;
}
