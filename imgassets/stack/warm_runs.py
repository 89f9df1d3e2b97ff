"""The last module the warm code server's forkserver imports (`warm_code_server.PRELOAD`): work that every run
would otherwise redo, done once before the forkserver forks its first run. Importing it is its purpose; nothing
else imports it."""

from imgassets.stack.instance import cache_migration_scripts
from imgassets.storage import S3Access

cache_migration_scripts()
# botocore reads its S3 service model and endpoint rules when a process makes its first client (~0.2 s of CPU), and
# the process's session keeps them (storage._boto3_session): a run's client for listing then costs 4 ms. No request
# is made.
S3Access(endpoint_url="http://127.0.0.1:9", region="us-east-1", access_key_id="", secret_access_key="").client()
