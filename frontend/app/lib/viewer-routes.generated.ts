/**
 * Generated from contract/viewer-routes.json by `npm run contract` (frontend/scripts/contract.mjs); do not edit.
 * The contract itself is generated from the Python code: `.venv/bin/python -m imgassets.devtools.contract --write`.
 */

/** React Router paths: `:name` fills one segment, a trailing `*` the rest, filled by `splat`. */
export const VIEWER_ROUTES = {
  "overview": {
    "path": "/"
  },
  "hour": {
    "path": "/hours/:partition"
  },
  "image": {
    "path": "/images/*",
    "splat": "key"
  },
  "media_original": {
    "path": "/media/original/*",
    "splat": "key"
  },
  "media_thumbnail": {
    "path": "/media/thumbnail/*",
    "splat": "key"
  },
  "search": {
    "path": "/search"
  },
  "search_download": {
    "path": "/search/download/:format"
  },
  "compare": {
    "path": "/compare"
  },
  "compare_image": {
    "path": "/compare/images/*",
    "splat": "key"
  },
  "source": {
    "path": "/sources/:name"
  },
  "login": {
    "path": "/login"
  },
  "logout": {
    "path": "/logout"
  },
  "health": {
    "path": "/healthz"
  }
} as const;

export type ViewerRoute = keyof typeof VIEWER_ROUTES;
