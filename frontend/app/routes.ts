import { type RouteConfig, index, route } from "@react-router/dev/routes";

export default [
  index("routes/overview.tsx"),
  route("hours/:partition", "routes/hour.tsx"),
  // The splat is the image's S3 key, e.g. /images/images/2026/11/25/04/abc123def456-dog.jpg
  route("images/*", "routes/image.tsx"),
  route("media/original/*", "routes/media.original.ts"),
  route("media/thumbnail/*", "routes/media.thumbnail.ts"),
  route("*", "routes/not-found.tsx"),
] satisfies RouteConfig;
