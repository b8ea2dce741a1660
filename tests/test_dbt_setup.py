"""The set-up step parses the dbt project into a manifest whose sources line up with the ingest
contracts (so dagster-dbt source keys equal the ingest asset keys) and whose shared views are
marked for publishing."""

from __future__ import annotations

import json
from pathlib import Path

from orchestration.dbt_setup import prepare_manifest
from orchestration.ingest.contracts import ENTITIES

SHARED_VIEWS = {
    "hidden_danger_register", "responsibility_matrix", "responsibility_chain_breaks", "town_readiness",
    "grid_coverage", "rescue_capacity", "event_handling", "town_dossier",
}


def test_prepare_manifest_matches_the_contracts(tmp_path: Path) -> None:
    target = tmp_path / "target"
    manifest = json.loads(prepare_manifest(target_dir=target).read_text())
    # idempotent: parsing again gives the same nodes and sources
    again = json.loads(prepare_manifest(target_dir=target).read_text())
    assert (set(again["nodes"]), set(again["sources"])) == (set(manifest["nodes"]), set(manifest["sources"]))

    sources = {(s["source_name"], s["name"]): s for s in manifest["sources"].values()}
    contract_keys = {(e.source, e.name) for e in ENTITIES}
    assert contract_keys <= set(sources)
    for source_name, entity_name in contract_keys:
        source = sources[(source_name, entity_name)]
        assert (source["schema"], source["identifier"]) == ("raw", f"{source_name}__{entity_name}")

    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert SHARED_VIEWS | {"unmapped_values"} <= {name for name, n in models.items() if "published" in n["tags"]}
    # every staging model reads exactly one source, and it is a contract entity
    for name, node in models.items():
        if name.startswith("stg_") and node["sources"]:
            assert len(node["sources"]) == 1 and tuple(node["sources"][0]) in contract_keys

