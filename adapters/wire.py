"""Request bodies as the platforms send them, checked before anything reads them.

Both routes call `json_object` (Slack also `text`) only after the request is authenticated;
whatever fails here is answered 400, never passed on. Limits: UTF-8, at most `MAX_DEPTH`
levels of nesting (deep JSON overflows recursive code), and no lone surrogates (`"\\ud800"` is
valid JSON but no database will store it).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

MAX_DEPTH = 32


class Malformed(ValueError):
    """An authenticated request kmb cannot read; the message says why (for a 400)."""


def text(raw: bytes) -> str:
    """The body as text."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Malformed("the body is not UTF-8") from exc


def json_value(body: str) -> Any:
    """Any JSON value, within the nesting and text limits."""
    try:
        value = json.loads(body)
    except RecursionError as exc:
        raise Malformed("the JSON is nested too deeply") from exc
    except ValueError as exc:
        raise Malformed("the body is not JSON") from exc
    _check(value)
    return value


def json_object(body: str) -> dict[str, Any]:
    """A JSON object, within the limits."""
    value = json_value(body)
    if not isinstance(value, dict):
        raise Malformed("expected a JSON object")
    return value


def conforms(model: type[BaseModel], value: dict[str, Any]) -> None:
    """`value` has the shape `model` describes (unknown fields are allowed)."""
    try:
        model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the body"
        raise Malformed(f"{where}: {first['msg']}") from None


def _check(value: Any) -> None:
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise Malformed(f"the JSON is nested more than {MAX_DEPTH} deep")
        if isinstance(item, str):
            _encodable(item)
        elif isinstance(item, dict):
            for key, inner in item.items():
                _encodable(key)
                pending.append((inner, depth + 1))
        elif isinstance(item, list):
            pending.extend((inner, depth + 1) for inner in item)


def _encodable(s: str) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Malformed("the JSON holds a lone surrogate") from exc
