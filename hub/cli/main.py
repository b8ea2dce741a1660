"""The ``hub`` command: the user's one entry point.

Each subcommand lives in its own module and imports its heavy dependencies lazily,
so ``hub --help`` stays fast.
"""

from __future__ import annotations

import click

from hub.cli.deploy_cmd import deploy
from hub.cli.ingest_cmd import ingest
from hub.cli.kb_cmd import kb
from hub.cli.pipeline_cmd import demo, run, sql
from hub.cli.quality_cmd import quality
from hub.cli.sample_cmd import sample
from hub.cli.serve_cmd import keys, serve


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
def cli() -> None:
    """萧山区应急管理数据枢纽 — emergency data hub.

    Ingests the departments' exports, builds the shared accountability views,
    indexes plans and cases for search, and serves them.
    """


for command in (sample, ingest, run, sql, demo, kb, serve, keys, quality, deploy):
    cli.add_command(command)


if __name__ == "__main__":
    cli()
