"""Mark query terms in a snippet for the search page (HTML-escaped first, then wrapped in <mark>)."""

from __future__ import annotations

import re

from markupsafe import Markup, escape


def mark_terms(text: str, terms: list[str]) -> Markup:
    safe = str(escape(text or ""))
    wanted = [str(escape(t)) for t in terms if t]
    if not wanted:
        return Markup(safe)
    pattern = re.compile("|".join(re.escape(t) for t in sorted(wanted, key=len, reverse=True)), re.IGNORECASE)
    return Markup(pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", safe))
