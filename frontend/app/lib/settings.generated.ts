/**
 * Generated from contract/viewer-settings.json by `npm run contract` (frontend/scripts/contract.mjs); do not edit.
 * The contract itself is generated from the Python code: `.venv/bin/python -m imgassets.devtools.contract --write`.
 */

/** Each IMGASSETS_* setting the server reads: its default (imgassets/core/settings.py) and what it may be. */
export const SETTINGS = {
  "IMGASSETS_S3_ENDPOINT_URL": {
    "default": "http://127.0.0.1:8333"
  },
  "IMGASSETS_S3_REGION": {
    "default": "us-east-1"
  },
  "IMGASSETS_S3_BUCKET": {
    "default": "imgassets",
    "pattern": "^[a-z0-9][a-z0-9.-]+[a-z0-9]$"
  },
  "IMGASSETS_S3_ADDRESSING_STYLE": {
    "default": "path",
    "choices": [
      "path",
      "virtual",
      "auto"
    ]
  },
  "IMGASSETS_DAGSTER_URL": {
    "default": "http://127.0.0.1:3000"
  },
  "IMGASSETS_QUERY_URL": {
    "default": "http://127.0.0.1:3002"
  },
  "IMGASSETS_VIEWER_AUTH": {
    "default": "auto",
    "choices": [
      "auto",
      "login",
      "proxy",
      "none"
    ]
  },
  "IMGASSETS_VIEWER_SESSION_HOURS": {
    "default": 12,
    "min": 1,
    "max": 720
  },
  "IMGASSETS_VIEWER_PROXY_USER_HEADER": {
    "default": "X-Forwarded-User",
    "pattern": "^[A-Za-z0-9-]+$"
  },
  "IMGASSETS_VIEWER_LOGIN_ATTEMPTS": {
    "default": 5,
    "min": 1,
    "max": 1000
  }
} as const;
