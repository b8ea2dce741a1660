"""``hub-dbt``: the dbt command line, except that ``hub-dbt --version`` answers without importing dbt.

dagster-dbt runs ``<dbt executable> --version`` once per run to learn the dbt version; the stock ``dbt`` entry
point imports all of dbt first, which costs ~2.5 s on every daily run. Everything else is dbt's own ``cli``.
"""

import sys
from importlib.metadata import version


def main() -> int:
    if sys.argv[1:] == ["--version"]:
        # the shape of dbt's own answer, whose first x.y.z dagster-dbt reads
        print(f"Core:\n  - installed: {version('dbt-core')}")
        return 0
    from dbt.cli.main import cli

    return cli()


if __name__ == "__main__":
    sys.exit(main())
