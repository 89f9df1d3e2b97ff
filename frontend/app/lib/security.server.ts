/**
 * Security headers of every answer of the viewer's server: pages, data requests, media, downloads, redirects and
 * errors (root.tsx's middleware; pages get their nonce'd policy in entry.server.tsx). docs/security.md.
 */

/** The same on every answer. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "X-Frame-Options": "DENY",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "same-origin",
  "Cross-Origin-Opener-Policy": "same-origin",
};

/**
 * A page's policy: scripts only from this origin and the inline ones React Router renders with this request's
 * nonce. Styles allow 'unsafe-inline' because the pages colour classes with style attributes (style-src-attr is
 * not in every browser yet); no script can come in that way.
 */
export function pagePolicy(nonce: string): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** Anything that is not a page (data, media, downloads, redirects): nothing to load, no framing. */
export const RESOURCE_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function setAll(headers: Headers): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) headers.set(name, value);
  const policy = headers.get("Content-Security-Policy");
  if (policy === null) headers.set("Content-Security-Policy", RESOURCE_POLICY);
  else if (!/(^|;)\s*frame-ancestors\s/i.test(policy)) {
    headers.set("Content-Security-Policy", `${policy}; frame-ancestors 'none'`);
  }
}

/** `response` with the security headers (a copy when its headers cannot be changed, as those of a fetch). */
export function withSecurityHeaders(response: Response): Response {
  try {
    setAll(response.headers);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    setAll(copy.headers);
    return copy;
  }
}

/**
 * Whether a form submission (POST…) comes from this site's own pages: its Origin (or, without one, Sec-Fetch-Site)
 * names the host the request was sent to, as the Host header or a proxy's X-Forwarded-Host says. The scheme is not
 * compared: TLS usually ends at a proxy, so the server sees http while the browser's origin is https. (A cross-site
 * form cannot set either header; React Router's own check, which compares schemes too, is off for this reason:
 * react-router.config.ts.) Clients that send neither header (curl) are not browsers, so no CSRF victims.
 */
export function isSameOrigin(request: Request): boolean {
  const origin = request.headers.get("Origin");
  if (origin === null || origin === "") {
    const site = request.headers.get("Sec-Fetch-Site");
    return site === null || site === "same-origin" || site === "none";
  }
  let host: string;
  try {
    host = new URL(origin).host.toLowerCase();
  } catch {
    return false; // "null" (sandboxed, file:) or garbage
  }
  const hosts = [request.headers.get("Host"), request.headers.get("X-Forwarded-Host")?.split(",")[0]];
  return hosts.some((name) => name?.trim().toLowerCase() === host);
}
