"""The `imgassets` command: ingest images and videos, run the local stack, query, benchmark."""

from __future__ import annotations

import logging

import click

from imgassets.cli import (
    bench_commands,
    deployment_commands,
    dlq_commands,
    ingest_commands,
    query_commands,
    stack_commands,
    version_commands,
)
from imgassets.core.redaction import install_redaction


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging (secrets are redacted).")
def main(verbose: bool) -> None:
    """Real-time image analytics: ingest → Kafka → Dagster assets → S3 → viewer."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_redaction()
    if not verbose:
        # kafka-python warns "No node available for metadata refresh" while its first connection is still
        # opening; real delivery failures surface as errors of the send itself.
        logging.getLogger("kafka.cluster").setLevel(logging.ERROR)
        # Connection attempts to an unreachable broker are logged per retry; the command's own error says it once.
        for name in ("kafka.net.manager", "kafka.net.connection"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


main.add_command(ingest_commands.ingest)
main.add_command(dlq_commands.dlq)
main.add_command(query_commands.query_command)
main.add_command(query_commands.serve_queries)
main.add_command(version_commands.versions)
main.add_command(bench_commands.bench_queries)
main.add_command(bench_commands.bench_steps)
main.add_command(bench_commands.bench_volume)
main.add_command(bench_commands.bench)
main.add_command(deployment_commands.viewer_password)
main.add_command(deployment_commands.instance)
main.add_command(stack_commands.stack)

if __name__ == "__main__":
    main()
