"""Check a custom resource against its CRD's structural schema, the way the API server treats it.

JSON Schema validators accept unknown fields; the Kubernetes API server *prunes* them from a
custom resource without a word (unless the schema preserves unknown fields). A field the CRD does
not declare is therefore reported here as a problem: it would never reach the operator. Covers
the parts of OpenAPI v3 the Locust operator's CRD uses: type, properties, additionalProperties,
items, required, enum, minimum, oneOf (of required lists) and x-kubernetes-int-or-string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


def problems(value: Any, schema: Mapping[str, Any], path: str = "spec") -> list[str]:
    """Every way ``value`` breaks ``schema`` or would be pruned by it (empty: accepted as is)."""
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, int | str) and not isinstance(value, bool):
            return []
        return [f"{path}: expected an integer or a string"]
    kind = schema.get("type")
    if kind is not None and not _TYPES[kind](value):
        return [f"{path}: expected {kind}, got {type(value).__name__}"]
    found: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "minimum" in schema and value < schema["minimum"]:
        found.append(f"{path}: {value!r} is below the minimum {schema['minimum']}")
    if isinstance(value, dict):
        found += _object_problems(value, schema, path)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += problems(item, schema["items"], f"{path}[{i}]")
    return found


def _object_problems(value: dict[str, Any], schema: Mapping[str, Any], path: str) -> list[str]:
    found = [f"{path}.{key}: required" for key in schema.get("required", []) if key not in value]
    declared = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        if key in declared:
            found += problems(item, declared[key], f"{path}.{key}")
        elif isinstance(extra, dict):
            found += problems(item, extra, f"{path}.{key}")
        elif not schema.get("x-kubernetes-preserve-unknown-fields"):
            found.append(f"{path}.{key}: not in the schema (the API server would drop it)")
    alternatives = schema.get("oneOf")
    if alternatives:
        matching = sum(all(k in value for k in alt.get("required", [])) for alt in alternatives)
        if matching != 1:
            found.append(f"{path}: must match exactly one of {alternatives}, matches {matching}")
    return found
