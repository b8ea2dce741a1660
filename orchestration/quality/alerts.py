"""The alert hook: when checks turn from pass to fail, POST one JSON message to a webhook.

The URL is the setting HUB_QUALITY_WEBHOOK_URL (none by default: no alert is sent). A failure to
post is logged and never fails the run: the report is the record, the alert only a nudge.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import httpx

from orchestration.quality.results import FAIL, PASS, CheckResult

WEBHOOK_SETTING = "HUB_QUALITY_WEBHOOK_URL"
TIMEOUT_SECONDS = 10.0

log = logging.getLogger(__name__)


def webhook_url() -> str | None:
    return os.environ.get(WEBHOOK_SETTING, "").strip() or None


def newly_failing(results: list[CheckResult], previous: Mapping[str, str]) -> list[CheckResult]:
    """Checks that passed in the previous run and fail now (a check new to this run is not a change)."""
    return [r for r in results if r.status == FAIL and previous.get(r.check_name) == PASS]


def alert_message(changed: list[CheckResult], run_id: str, report_url: str | None) -> dict[str, Any]:
    departments = sorted({o for r in changed for o in r.owners})
    lines = [f"【数据质量告警】{len(changed)} 项检查由通过变为不通过："]
    lines += [f"- {r.title}（{r.owner_dept}）：{r.failing_rows} 行问题；阈值 {r.threshold}" for r in changed]
    return {
        "text": "\n".join(lines),
        "run_id": run_id,
        "report": report_url,
        "departments": departments,
        "checks": [
            {"check_name": r.check_name, "title": r.title, "owner_dept": r.owner_dept, "status": r.status,
             "measured_value": r.measured_value, "threshold": r.threshold, "failing_rows": r.failing_rows,
             "sample_keys": r.sample_keys(10)}
            for r in changed
        ],
    }


def post_alert(url: str, message: dict[str, Any]) -> bool:
    """POST the message; True when the receiver answered 2xx. Never raises."""
    try:
        response = httpx.post(url, json=message, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        log.warning("质量告警发送失败 / quality alert not delivered to %s: %s", url, exc)
        return False
    if response.is_success:
        return True
    log.warning("质量告警被拒绝 / quality alert refused by %s: HTTP %s", url, response.status_code)
    return False


def send_alerts(results: list[CheckResult], previous: Mapping[str, str], run_id: str, url: str | None,
                report_url: str | None = None) -> list[CheckResult]:
    """Post one message about the checks that turned pass → fail; returns them (empty: nothing sent)."""
    changed = newly_failing(results, previous)
    if changed and url:
        post_alert(url, alert_message(changed, run_id, report_url))
    return changed
