"""What route handlers receive by injection (``Provide``): settings, the snapshot versions, the audit log, the
search index holder, the warehouse link (None on DuckDB) and the authorised caller. Controllers declare the
ones they use at class level."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from api.audit import AuditLog
from api.auth import Principal
from api.errors import not_published
from api.search_service import SearchHolder
from api.serving_db import ServingDb
from api.settings import ApiSettings
from api.versioned import NotPublishedError, Version, VersionedResource
from api.warehouse_link import WarehouseLink


def _settings(state: State) -> ApiSettings:
    return state.settings  # type: ignore[no-any-return]


def _snapshots(state: State) -> VersionedResource[ServingDb]:
    return state.snapshots  # type: ignore[no-any-return]


def _audit(state: State) -> AuditLog:
    return state.audit  # type: ignore[no-any-return]


def _search(state: State) -> SearchHolder:
    return state.search  # type: ignore[no-any-return]


def _warehouse(state: State) -> WarehouseLink | None:
    return state.warehouse  # type: ignore[no-any-return]


def _principal(request: Request[Any, Any, Any]) -> Principal:
    """The caller: ``request.user``, set by the authentication middleware and authorised by the controller's guard."""
    return request.user  # type: ignore[no-any-return]


SETTINGS = {"settings": Provide(_settings, sync_to_thread=False)}
SNAPSHOTS = {"snapshots": Provide(_snapshots, sync_to_thread=False)}
AUDIT = {"audit": Provide(_audit, sync_to_thread=False)}
SEARCH = {"search_holder": Provide(_search, sync_to_thread=False)}
WAREHOUSE = {"warehouse": Provide(_warehouse, sync_to_thread=False)}
PRINCIPAL = {"principal": Provide(_principal, sync_to_thread=False)}

# The types of the injected parameters, marked as named dependencies (Litestar 3 no longer infers a dependency
# from a parameter's name alone).
SettingsDep = NamedDependency[ApiSettings]
SnapshotsDep = NamedDependency[VersionedResource[ServingDb]]
AuditDep = NamedDependency[AuditLog]
SearchDep = NamedDependency[SearchHolder]
WarehouseDep = NamedDependency[WarehouseLink | None]
PrincipalDep = NamedDependency[Principal]


def acquire(snapshots: VersionedResource[ServingDb]) -> Version[ServingDb]:
    """Lease the current snapshot (released by the caller, e.g. when a streamed export ends)."""
    try:
        return snapshots.acquire()
    except NotPublishedError:
        raise not_published("数据快照", "serving snapshot") from None


@contextmanager
def lease(snapshots: VersionedResource[ServingDb]) -> Iterator[ServingDb]:
    version = acquire(snapshots)
    try:
        yield version.resource
    finally:
        snapshots.release(version)
