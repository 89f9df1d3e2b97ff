import { type RouteConfig, index, route } from "@react-router/dev/routes";
import { VIEWER_ROUTES } from "./lib/viewer-routes.generated";

// The URL paths are the contract's (contract/viewer-routes.json, generated from imgassets/core/viewer_routes.py,
// whose `viewer_link` builds the pipeline's links into the viewer); only the files that serve them are chosen here.
const path = (name: Exclude<keyof typeof VIEWER_ROUTES, "overview">) => VIEWER_ROUTES[name].path.slice(1);

export default [
  index("routes/overview.tsx"),
  route(path("hour"), "routes/hour.tsx"),
  // The splat is the image's S3 key, e.g. /images/images/2026/11/25/04/abc123def456-dog.jpg
  route(path("image"), "routes/image.tsx"),
  route(path("media_original"), "routes/media.original.ts"),
  route(path("media_thumbnail"), "routes/media.thumbnail.ts"),
  route(path("search"), "routes/search.tsx"),
  // :format is csv or parquet
  route(path("search_download"), "routes/search.download.ts"),
  // ?version=conf03&last=7d&sort=only_b&page=2: a detector version against the active one
  route(path("compare"), "routes/compare.tsx"),
  // The splat is the image's S3 key; same query, and show=a|b
  route(path("compare_image"), "routes/compare.image.tsx"),
  // ?last=24h or ?from=…&to=…: one source's (camera's) tracked objects, lines and zones
  route(path("source"), "routes/source.tsx"),
  // Access (docs/security.md): the login page (login mode), signing out, the health check.
  route(path("login"), "routes/login.tsx"),
  route(path("logout"), "routes/logout.ts"),
  route(path("health"), "routes/healthz.ts"),
  route("*", "routes/not-found.tsx"),
] satisfies RouteConfig;
