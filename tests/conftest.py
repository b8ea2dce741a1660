"""Shared pytest fixtures. Each part keeps its fixtures in its own module and imports them here."""

import atexit
import os
import shutil
import tempfile

# --- API and web pages (api/): snapshot, live server, keys -------------------------------------------
from api_fixtures import api_data_dir, api_server, snapshot_db  # noqa: F401

# --- PostgreSQL (the warehouse on a server engine): a real server per test session ------------------------
from pg_server import pg_server  # noqa: F401
from pg_warehouse import pg_con, pg_dbt_build  # noqa: F401

# Every test makes its own data directory; the model's ONNX export (tens of seconds) is made once per session.
_ONNX_EXPORTS = tempfile.mkdtemp(prefix="hub-test-onnx-")
os.environ.setdefault("HUB_KB_ONNX_DIR", _ONNX_EXPORTS)
atexit.register(shutil.rmtree, _ONNX_EXPORTS, True)
