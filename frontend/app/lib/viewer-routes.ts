/**
 * Paths of the viewer's routes, from the contract shared with the pipeline (contract/viewer-routes.json, via
 * viewer-routes.generated.ts). `viewerPath` fills and encodes parameters exactly like the pipeline's
 * `imgassets.devtools.contract.viewer_path`; the contract's examples test both.
 */
import { VIEWER_ROUTES, type ViewerRoute } from "./viewer-routes.generated";

export { VIEWER_ROUTES, type ViewerRoute };

// Kept as they are: A-Z a-z 0-9 - . _ ~ : @ (and / in a splat); everything else is percent-encoded as UTF-8.
const SEGMENT_UNSAFE = /[^A-Za-z0-9\-._~:@]/gu;
const SPLAT_UNSAFE = /[^A-Za-z0-9\-._~:@/]/gu;
const PARAM = /:([A-Za-z_][A-Za-z0-9_]*)/g;
const utf8 = new TextEncoder();

function encode(value: string, unsafe: RegExp): string {
  return value.replace(unsafe, (char) =>
    Array.from(utf8.encode(char), (byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
  );
}

/** `value` as the end of a path, like a splat: slashes kept, every other unsafe character percent-encoded. */
export function encodeSplat(value: string): string {
  return encode(value, SPLAT_UNSAFE);
}

/** The path of `route` with `params` filled in; throws for a missing, empty or unexpected parameter. */
export function viewerPath(route: ViewerRoute, params: Record<string, string> = {}): string {
  const spec: { readonly path: string; readonly splat?: string } = VIEWER_ROUTES[route];
  const expected = [...spec.path.matchAll(PARAM)].map((match) => match[1]);
  if (spec.splat !== undefined) expected.push(spec.splat);
  const missing = expected.filter((name) => !params[name]);
  const unexpected = Object.keys(params).filter((name) => !expected.includes(name));
  if (missing.length > 0 || unexpected.length > 0) {
    throw new Error(
      `viewer route ${route} (${spec.path}) takes ${expected.join(", ") || "no parameters"}` +
        (missing.length > 0 ? `; missing or empty: ${missing.join(", ")}` : "") +
        (unexpected.length > 0 ? `; unexpected: ${unexpected.sort().join(", ")}` : ""),
    );
  }
  let path = spec.path.replace(PARAM, (_, name: string) => encode(params[name], SEGMENT_UNSAFE));
  if (spec.splat !== undefined) path = path.slice(0, -1) + encodeSplat(params[spec.splat]);
  return path;
}
