"""The PostgreSQL test server starts, accepts connections on a loopback port and hands out fresh databases."""

from __future__ import annotations

import psycopg
from pg_server import PgServer


def test_server_runs_on_loopback_with_c_collation(pg_server: PgServer) -> None:
    url = pg_server.new_database("hub_server_check")
    with psycopg.connect(url) as con:
        version = con.execute("SHOW server_version_num").fetchone()[0]
        assert int(version) >= 150000
        assert con.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        assert con.execute("SHOW port").fetchone()[0] == str(pg_server.port)
        # code-point order, as DuckDB sorts text
        assert con.execute("SELECT datcollate FROM pg_database WHERE datname = current_database()").fetchone()[0] \
            == "C"
        assert [r[0] for r in con.execute("SELECT x FROM (VALUES ('区'), ('A'), ('城')) v(x) ORDER BY x")] == \
            sorted(["区", "A", "城"])
