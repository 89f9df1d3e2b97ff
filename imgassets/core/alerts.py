"""Alerts: an optional Slack-compatible webhook (JSON POST `{"text": …}`) for the events an operator must see.

Fired on: N failed Kafka sensor ticks in a row, a run that fails for good, a batch that was dead-lettered, and a
failed asset check. Sending never raises: an alert that cannot be delivered is logged (without the URL, which
holds a token) and the pipeline goes on.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

log = logging.getLogger(__name__)
_PREFIX = "[imgassets] "


def post(url: str, text: str, timeout: float = 10.0) -> bool:
    """Posts one alert; returns whether the webhook accepted it (2xx)."""
    body = json.dumps({"text": _PREFIX + text[:3000]}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("alert not delivered (%s): %s", type(exc).__name__, text[:200])
        return False
