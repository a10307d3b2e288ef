"""Checks a JSON value against a TypedDict of ``station.wire``: every field present, no field unknown, every value
of its annotated type (recursively). Used wherever a test holds a snapshot a real daemon sent."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin, get_type_hints, is_typeddict


def shape_problems(value: object, annotation: Any, where: str = "$") -> list[str]:
    """What in ``value`` breaks ``annotation`` (a TypedDict, list[...], X | None or a plain type); [] if nothing."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = [shape_problems(value, option, where) for option in get_args(annotation)]
        return [] if any(not o for o in options) else min(options, key=len)
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, not a list"]
        (item,) = get_args(annotation)
        return [p for i, v in enumerate(value) for p in shape_problems(v, item, f"{where}[{i}]")]
    if is_typeddict(annotation):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not {annotation.__name__}"]
        hints = get_type_hints(annotation)
        problems = [f"{where}.{k}: missing" for k in hints if k not in value]
        problems += [f"{where}.{k}: not in {annotation.__name__}" for k in value if k not in hints]
        for k, hint in hints.items():
            if k in value:
                problems += shape_problems(value[k], hint, f"{where}.{k}")
        return problems
    if annotation is type(None):
        return [] if value is None else [f"{where}: {value!r} is not None"]
    if annotation is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif annotation is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, annotation)
    return [] if ok else [f"{where}: {value!r} is not {annotation.__name__}"]


def describe(annotation: Any) -> Any:
    """A TypedDict as JSON: its fields and their types, nested TypedDicts spelled out (for the golden file)."""
    if is_typeddict(annotation):
        return {k: describe(v) for k, v in get_type_hints(annotation).items()}
    origin = get_origin(annotation)
    if origin is list:
        return [describe(get_args(annotation)[0])]
    if origin in (Union, types.UnionType):
        return " | ".join(sorted(str(describe(a)) for a in get_args(annotation)))
    return "None" if annotation is type(None) else getattr(annotation, "__name__", str(annotation))
