"""The HTTP load generator the API benchmarks share: closed-loop httpx clients against a running ``hub serve``,
the requests they measure, and the labelled queries that search requests cycle through."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from common import ROOT, percentile

SCENARIOS = {
    "table page": "/api/tables/hidden_danger_register?_size=50&_sort=deadline&is_closed=false",
    "filtered CSV export": "/api/tables/hidden_danger_register?level=一般&is_closed=false&_format=csv",
    "search (bm25)": "/api/search?mode=bm25&top_k=10&q={q}",
    "search (hybrid)": "/api/search?mode=hybrid&top_k=10&q={q}",
}
QUERY_FILES = (ROOT / "bench" / "kb_queries.jsonl", ROOT / "bench" / "demo_queries.jsonl")


def labelled_queries() -> list[str]:
    seen: dict[str, None] = {}
    for path in QUERY_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                seen.setdefault(json.loads(line)["query"], None)
    return list(seen)


@dataclass
class Result:
    scenario: str
    clients: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    cache_hits: int = 0
    cache_misses: int = 0
    first_error: str = ""  # status and start of the body of the first failed request

    def pct(self, p: float) -> float:
        return percentile(self.latencies_ms, p)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


async def load(base: str, path: str, clients: int, seconds: float, queries: list[str],
               body: dict[str, str] | None = None) -> Result:
    """``clients`` closed-loop clients for ``seconds``: GET ``path`` (``{q}`` cycling through ``queries``), or
    POST ``body`` as JSON when given."""
    latencies: list[float] = []
    errors = 0
    hits = misses = 0
    first_error = ""
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    cycle = itertools.cycle(queries)

    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors, hits, misses, first_error
            while time.perf_counter() < deadline:
                url = path.format(q=quote(next(cycle))) if "{q}" in path else path
                started = time.perf_counter()
                try:
                    response = await (client.post(url, json=body) if body else client.get(url))
                    await response.aread()
                    ok = response.status_code == 200
                except httpx.HTTPError as exc:
                    ok, response = False, None
                    first_error = first_error or repr(exc)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += 0 if ok else 1
                if not ok and response is not None and not first_error:
                    first_error = f"{response.status_code} {response.text[:300]}"
                cache = response.headers.get("x-query-cache") if response is not None else None
                hits += cache == "hit"
                misses += cache == "miss"

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return Result("", clients, len(latencies), errors, elapsed, latencies, hits, misses, first_error)
