"""Prepare the dbt manifest once at set-up time (never at import time)."""

from __future__ import annotations


def main() -> None:
    print("dbt manifest: nothing to prepare yet")


if __name__ == "__main__":
    main()
