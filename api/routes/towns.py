"""``/api/towns``: the town dossier with its hidden dangers, teams, plans and recent events."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from litestar import Controller, get
from litestar.di import Provide
from litestar.params import FromPath
from litestar.plugins.problem_details import ProblemDetailsException

from api.auth import require
from api.dependencies import SEARCH, SNAPSHOTS, SearchDep, SnapshotsDep, lease
from api.dto import TownDossier, TownList, TownSummary
from api.errors import problem
from api.search_service import SearchHolder
from api.state import ERROR_RESPONSES, NOT_FOUND, SECURED, UNAVAILABLE
from api.towns_service import link_documents, town_dossier, town_list


class TownsController(Controller):
    path = "/api/towns"
    tags = ("towns",)
    guards = (require("towns"),)
    security = SECURED
    dependencies: ClassVar[dict[str, Provide]] = {**SNAPSHOTS, **SEARCH}

    @get("/", responses={**ERROR_RESPONSES, **UNAVAILABLE}, summary="镇街列表 / towns", sync_to_thread=True)
    def list_towns(self, snapshots: SnapshotsDep) -> TownList:
        with lease(snapshots) as db:
            towns = [TownSummary(**t) for t in town_list(db)]
            return TownList(towns=towns, snapshot=db.path.name)

    @get(
        "/{code:str}",
        responses={**ERROR_RESPONSES, **NOT_FOUND, **UNAVAILABLE},
        summary="镇街档案 / town dossier",
        sync_to_thread=True,
    )
    def get_town(
        self, code: FromPath[str], snapshots: SnapshotsDep, search_holder: SearchDep
    ) -> TownDossier:
        with lease(snapshots) as db:
            found = town_dossier(db, code)
        if found is None:
            raise problem(404, "unknown_town", f"没有镇街代码 {code!r}", f"no town with code {code!r}", town_code=code)
        link_documents(found, documents(search_holder))
        return msgspec.convert(found, TownDossier)  # the rows' values pass through as they are (date, decimal…)


def documents(holder: SearchHolder) -> list[dict[str, Any]]:
    """Every document of the published index; none when no index is published (the dossier still works)."""
    try:
        with holder.lease() as index:
            return list(index.list_documents())
    except ProblemDetailsException:
        return []
