"""The last module the warm code server's forkserver imports (`warm_code_server.PRELOAD`): work that every run
would otherwise redo, done once before the forkserver forks its first run. Importing it is its purpose; nothing
else imports it."""

import logging

from imgassets.core.settings import get_settings
from imgassets.core.storage import S3Access
from imgassets.defs.resource_types import DetectorResource
from imgassets.stack.dagster_patches import cache_migration_scripts, cache_sqlite_engines


def warm_detector() -> None:
    """The active detector version loaded (`DetectorResource.load` keeps it for the process and the runs forked
    from it), with a network per lane and its weights' hash: each run would otherwise spend about 0.12 s of CPU on
    them before its first detection. A version that does not load is left to the runs, which report why."""
    try:
        DetectorResource.from_settings(get_settings()).load().warm()
    except Exception:
        logging.getLogger(__name__).warning("detector not preloaded; each run loads it", exc_info=True)
    finally:
        get_settings.cache_clear()  # runs read their settings as before


cache_migration_scripts()
cache_sqlite_engines()
# botocore reads its S3 service model and endpoint rules when a process makes its first client (~0.2 s of CPU), and
# the process's session keeps them (storage._boto3_session): a run's client for listing then costs 4 ms. No request
# is made.
S3Access(endpoint_url="http://127.0.0.1:9", region="us-east-1", access_key_id="", secret_access_key="").client()
warm_detector()
