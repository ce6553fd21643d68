"""Typed access to one TOML table, with errors that name the file, the key path and the fix."""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

MISSING: Any = object()
_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "a table",
}
_ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


_BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def show_key(key: str) -> str:
    """``key`` as TOML would spell it: bare when it can be, else quoted (one line, short)."""
    if _BARE_KEY_RE.match(key):
        return key[:60]
    return json.dumps(key[:60])


def type_name(value: object) -> str:
    """A TOML-ish name for the type of ``value`` (never the value: it might be a secret)."""
    return _TYPE_NAMES.get(type(value), "a date/time" if value is not None else "nothing")


@dataclass(frozen=True, slots=True)
class Node:
    """One table of the scenario document, where it sits (``flows[2]``) and which file."""

    data: Mapping[str, Any]
    path: str
    file: str
    base_dir: Path

    def where(self, key: str | None = None) -> str:
        """The key path of ``key`` in this table (or of the table itself)."""
        if key is None:
            return self.path or "(top level)"
        shown = show_key(key)
        return f"{self.path}.{shown}" if self.path else shown

    def error(self, key: str | None, message: str) -> ConfigError:
        """A one-line ConfigError: ``file: key.path: message``."""
        return ConfigError(f"{self.file}: {self.where(key)}: {message}")

    @contextmanager
    def context(self, key: str | None) -> Iterator[None]:
        """Re-raise a ConfigError from inside with this file and key path in front."""
        try:
            yield
        except ConfigError as exc:
            raise self.error(key, str(exc)) from None

    def check_keys(self, allowed: Collection[str]) -> None:
        """Refuse keys outside ``allowed`` (typos are errors, not silently ignored)."""
        for key in self.data:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" did you mean {close[0]!r}?" if close else ""
                valid = ", ".join(sorted(allowed))
                raise self.error(key, f"unknown key;{hint} valid keys here: {valid}")

    def has(self, key: str) -> bool:
        """True when ``key`` is present."""
        return key in self.data

    def raw(self, key: str) -> Any:
        """The value as parsed, or MISSING."""
        return self.data.get(key, MISSING)

    def _typed(self, key: str, kinds: tuple[type, ...], expected: str) -> Any:
        value = self.data.get(key, MISSING)
        if value is MISSING:
            return MISSING
        if isinstance(value, bool) and bool not in kinds:
            raise self.error(key, f"expected {expected}, got a boolean")
        if not isinstance(value, kinds):
            raise self.error(key, f"expected {expected}, got {type_name(value)}")
        return value

    def string(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        """A non-empty string without control characters."""
        value = self._typed(key, (str,), "a string")
        if value is MISSING:
            if required:
                raise self.error(key, "is required (a string)")
            return default
        if not value.strip():
            raise self.error(key, "must not be empty")
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
            raise self.error(key, "must not contain control characters (tabs, line breaks)")
        return str(value)

    def number(
        self, key: str, default: float, *, minimum: float = 0.0, strict: bool = True
    ) -> float:
        """A finite number > ``minimum`` (or >= when not ``strict``)."""
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        value = self._typed(key, (int, float), f"a number {bound}")
        if value is MISSING:
            return default
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number) or number < minimum or (strict and number == minimum):
            raise self.error(key, f"expected a finite number {bound}")
        return number

    def integer(self, key: str, default: int | None, *, minimum: int | None = None) -> int | None:
        """An integer, at least ``minimum`` when given."""
        bound = "" if minimum is None else f" >= {minimum}"
        value = self._typed(key, (int,), f"an integer{bound}")
        if value is MISSING:
            return default
        if minimum is not None and value < minimum:
            raise self.error(key, f"expected an integer{bound}")
        return int(value)

    def boolean(self, key: str, default: bool) -> bool:  # noqa: FBT001 (mirrors TOML)
        """``true`` or ``false``."""
        value = self._typed(key, (bool,), "true or false")
        return default if value is MISSING else bool(value)

    def file_path(self, key: str, *, must_exist: bool) -> Path | None:
        """A path; relative ones resolve against the scenario file's directory."""
        text = self.string(key)
        if text is None:
            return None
        try:
            path = Path(text).expanduser()
        except RuntimeError:  # ~user that does not exist
            raise self.error(key, "cannot expand '~' in this path; give a full path") from None
        if not path.is_absolute():
            path = self.base_dir / path
        if must_exist:
            try:
                exists = path.is_file()
            except (OSError, ValueError):
                exists = False
            if not exists:
                raise self.error(
                    key,
                    f"file {str(path)[:200]!r} not found (relative paths "
                    "are taken from the scenario file's directory)",
                )
        return path

    def env_var(self, key: str) -> str | None:
        """The NAME of an environment variable (refusing what looks like a key itself)."""
        name = self.string(key)
        if name is None:
            return None
        hint = "expected the NAME of an environment variable (letters, digits, _), not the key"
        if not _ENV_VAR_RE.match(name) or looks_like_key(name):
            raise self.error(key, hint)
        return name

    def table(self, key: str) -> Node | None:
        """The sub-table at ``key``, or None when absent."""
        value = self._typed(key, (dict,), "a table")
        if value is MISSING:
            return None
        return Node(value, self.where(key), self.file, self.base_dir)

    def tables(self, key: str) -> list[Node] | None:
        """The array of tables at ``key`` (``[[key]]``), or None when absent."""
        value = self._typed(key, (list,), f"an array of tables ([[{key}]])")
        if value is MISSING:
            return None
        nodes = []
        for index, item in enumerate(value):
            where = f"{self.where(key)}[{index}]"
            if not isinstance(item, dict):
                raise ConfigError(f"{self.file}: {where}: expected a table, got {type_name(item)}")
            nodes.append(Node(item, where, self.file, self.base_dir))
        return nodes


def looks_like_key(name: str) -> bool:
    """True for a long mixed-case/digit token: an API key pasted where a var name belongs."""
    has_lower = any(ch.islower() for ch in name)
    has_upper = any(ch.isupper() for ch in name)
    has_digit = any(ch.isdigit() for ch in name)
    return len(name) >= 24 and has_lower and has_digit and (has_upper or "_" not in name)
