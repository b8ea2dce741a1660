"""Reasons a file or a row breaks its contract, in words (Chinese first, then English)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_VALUE_CHARS = 500
MAX_RECORD_CHARS = 4000

# Row-level reasons. The text before ":" is the reason's kind (used to count top reasons);
# the offending value follows in quotes.
REQUIRED_EMPTY = "必填字段为空 / required field is empty"
NOT_INTEGER = "整数格式无法识别 / not an integer"
NOT_NUMBER = "数值格式无法识别 / not a number"
BAD_DATE = "日期格式无法识别 / unparseable date"
BAD_DATETIME = "时间格式无法识别 / unparseable datetime"
BAD_BOOL = "是否值无法识别 / not a yes/no value"
BAD_LIST = "列表格式无法识别 / not a JSON list"
BAD_JSON_VALUE = "JSON 值无法解析 / invalid JSON value"
NOT_ALLOWED = "取值不在允许范围 / value not in the allowed list"
UNKNOWN_TOWN = "未知镇街 / unknown town"
BAD_TOWN_CODE = "镇街代码无效 / invalid town code (9 digits, known in town_aliases)"
BAD_VILLAGE_CODE = "村社代码无效 / invalid village code (12 digits)"
DUPLICATED_ID = "编号重复 / duplicated id"
INVALID_JSON_LINE = "JSON 行无法解析（可能被截断） / invalid or truncated JSON line"
NOT_JSON_OBJECT = "JSON 行不是对象 / JSON line is not an object"
CELL_COUNT = "列数与表头不一致 / number of cells differs from the header"

# File-level reasons (the whole file, or one entity's sheet of it, is rejected); details follow ": ".
MISSING_COLUMN = "缺少必填列 / missing required column"
MISSING_SHEET = "缺少工作表 / missing sheet"
NOT_UTF8 = "文件不是 UTF-8 编码 / file is not valid UTF-8"
NOT_GBK = "文件不是 GBK 编码 / file is not valid GBK"
BAD_WORKBOOK = "无法打开 xlsx 文件 / cannot open the workbook"
EMPTY_FILE = "空文件 / empty file"
BAD_CSV = "CSV 无法解析 / cannot parse the CSV"


def reason_kind(reason: str) -> str:
    """The reason without its value, for counting the top reasons."""
    return reason.split(": ", 1)[0]


@dataclass(frozen=True)
class FileRejected(Exception):
    """A whole file (or one entity's sheet of it) cannot be read under its contract."""

    reason: str
    field: str | None = None

    def __str__(self) -> str:
        return self.reason
