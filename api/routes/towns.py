"""``/api/towns``: the town dossier with its hidden dangers, teams, plans and recent events."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.datastructures import State
from litestar.plugins.problem_details import ProblemDetailsException

from api.auth import require
from api.errors import problem
from api.search_service import SearchHolder
from api.state import ERROR_RESPONSES, NOT_FOUND, SECURED, UNAVAILABLE, serving_db
from api.towns_service import link_documents, town_dossier, town_list


@get(
    "/api/towns",
    guards=[require("towns")],
    security=SECURED,
    responses={**ERROR_RESPONSES, **UNAVAILABLE},
    tags=["towns"],
    summary="镇街列表 / towns",
    sync_to_thread=True,
)
def list_towns(state: State) -> dict[str, Any]:
    with serving_db(state) as db:
        return {"towns": town_list(db), "snapshot": db.path.name}


@get(
    "/api/towns/{code:str}",
    guards=[require("towns")],
    security=SECURED,
    responses={**ERROR_RESPONSES, **NOT_FOUND, **UNAVAILABLE},
    tags=["towns"],
    summary="镇街档案 / town dossier",
    sync_to_thread=True,
)
def get_town(state: State, code: str) -> dict[str, Any]:
    with serving_db(state) as db:
        found = town_dossier(db, code)
    if found is None:
        raise problem(404, "unknown_town", f"没有镇街代码 {code!r}", f"no town with code {code!r}", town_code=code)
    link_documents(found, kb_documents(state))
    return found


def kb_documents(state: State) -> list[dict[str, Any]]:
    """Every document of the published index; none when no index is published (the dossier still works)."""
    holder: SearchHolder = state.search
    try:
        with holder.lease() as index:
            return list(index.list_documents())
    except ProblemDetailsException:
        return []
