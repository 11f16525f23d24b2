"""Stripe's request encoding: form fields with nested keys (``a[b][0][c]=v``) into dicts and lists."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_PART = re.compile(r"\[([^\]]*)\]")


def _path(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    return [head, *_PART.findall("[" + rest)] if rest else [head]


def _listify(node: Any) -> Any:
    """Dicts whose keys are all indexes (``0``, ``1``...) become lists, in index order."""
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def parse_form(encoded: str) -> dict[str, Any]:
    """``a[b][0][c]=v&a[b][1][c]=w`` -> ``{"a": {"b": [{"c": "v"}, {"c": "w"}]}}``; values stay strings."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(encoded, keep_blank_values=True):
        parts = _path(key)
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"parameter {key!r} nests under a plain value")  # noqa: TRY004 - a 400
            node = child
        last = parts[-1] or str(len(node))  # "a[]=x" appends, as PHP-style clients send it
        node[last] = value
    result = _listify(root)
    assert isinstance(result, dict)
    return result


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"true", "1", "yes"}


def as_int(value: Any) -> int:
    return int(str(value))


def as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]
