"""Plain data as TOML text: what ``fleet config show`` prints, readable back by ``tomllib``.

Python reads TOML but does not write it. The config is plain data (tables, arrays of
tables, strings, numbers, booleans, lists), so a small writer does: scalars first, then
sub-tables as ``[a.b]`` and arrays of tables as ``[[a.b]]``, which is how a person writes a
config file. Round trip (``tomllib.loads(dumps(x)) == x``) is a property test.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def dumps(table: Mapping[str, Any]) -> str:
    """*table* as a TOML document. None has no TOML spelling: leave such keys out first."""
    lines: list[str] = []
    _table(lines, table, ())
    return "\n".join(lines).strip("\n") + "\n"


def _table(lines: list[str], table: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
    nested = {key: value for key, value in table.items() if _is_table(value) or _is_array_of_tables(value)}
    for key, value in table.items():
        if key not in nested:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in nested.items():
        name = ".".join(_key(part) for part in (*prefix, key))
        for item in value if isinstance(value, list) else [value]:
            lines += ["", f"[[{name}]]" if isinstance(value, list) else f"[{name}]"]
            _table(lines, item, (*prefix, key))


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_array_of_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, Mapping) for item in value)


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    # JSON's escapes are TOML's (\" \\ \n \t \uXXXX ...); TOML also wants DEL escaped.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(key)} = {_value(item)}" for key, item in value.items()) + " }" if value else "{}"
    raise TypeError(f"TOML has no way to write {type(value).__name__} ({value!r})")
