"""ApiKey never shows its value; redact() masks keys in free text."""

from __future__ import annotations

import copy
import logging
import pickle
import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from harness.errors import ConfigError
from harness.secrets import MASK, ApiKey, redact

# Seeded (a failure replays exactly) and no deadline (the machine is shared).
SETTINGS = settings(derandomize=True, deadline=None)


UNIQUE = "fk_live_7Qm2ZxR9vWb3Lp0sT8yN"
_VISIBLE = "".join(chr(c) for c in range(0x21, 0x7F))
keys = st.text(alphabet=_VISIBLE, min_size=8, max_size=64)


def test_reveal_returns_the_value() -> None:
    assert ApiKey(UNIQUE).reveal() == UNIQUE


def test_every_rendering_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    key = ApiKey(UNIQUE)
    renderings = [
        repr(key),
        str(key),
        f"{key}",
        f"{key!r}",
        f"{key:>40}",
        "%s %r" % (key, key),  # noqa: UP031 (the old style must be safe too)
        "{}".format(key),  # noqa: UP032
        repr([key]),
        repr({"k": key}),
    ]
    with caplog.at_level(logging.INFO):
        logging.getLogger("flowload.test").info("key=%s", key)
    renderings.append(caplog.text)
    for text in renderings:
        assert UNIQUE not in text
        assert MASK in text
    assert repr(key) == "ApiKey('***')"


def test_equality_and_hash_by_value() -> None:
    assert ApiKey(UNIQUE) == ApiKey(UNIQUE)
    assert ApiKey(UNIQUE) != ApiKey(UNIQUE + "x")
    assert ApiKey(UNIQUE) != UNIQUE
    assert len({ApiKey(UNIQUE), ApiKey(UNIQUE), ApiKey("other-key")}) == 2


def test_immutable() -> None:
    key = ApiKey(UNIQUE)
    with pytest.raises(AttributeError):
        key._value = "changed"
    with pytest.raises(AttributeError):
        del key._value
    assert key.reveal() == UNIQUE


def test_pickling_is_refused_but_copy_is_identity() -> None:
    key = ApiKey(UNIQUE)
    with pytest.raises(TypeError, match="cannot be pickled") as info:
        pickle.dumps(key)
    assert UNIQUE not in str(info.value)
    assert copy.copy(key) is key
    assert copy.deepcopy({"k": key})["k"] is key


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "empty"),
        (" ", "whitespace"),
        (UNIQUE + "\n", "whitespace"),
        (" " + UNIQUE, "whitespace"),
        (UNIQUE[:10] + " " + UNIQUE[10:], "whitespace"),
        (UNIQUE + "\t", "whitespace"),
        (UNIQUE + "é", "visible ASCII"),
        (UNIQUE + "\x00", "visible ASCII"),
        ("k" * 5000, "longer than"),
    ],
)
def test_rejects_unusable_keys_without_quoting_them(value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as info:
        ApiKey(value)
    message = str(info.value)
    if value.strip():
        assert value.strip() not in message
    assert UNIQUE not in message
    assert "\n" not in message


def test_rejects_non_strings() -> None:
    with pytest.raises(ConfigError, match="must be a string"):
        ApiKey(b"bytes-key")  # type: ignore[arg-type]


@SETTINGS
@given(keys)
def test_repr_never_contains_a_key(value: str) -> None:
    key = ApiKey(value)
    assume(value not in "ApiKey('***')")
    assert value not in repr(key)
    assert value not in f"{key}"
    assert key.reveal() == value


def test_redact_masks_raw_and_url_quoted_forms() -> None:
    special = ApiKey("a/b+c=d&e%f")
    text = (
        f"raw {UNIQUE}; quoted a%2Fb%2Bc%3Dd%26e%25f; plus a%2Fb%2Bc%3Dd%26e%25f; raw a/b+c=d&e%f"
    )
    out = redact(text, [ApiKey(UNIQUE), special])
    assert UNIQUE not in out
    assert "a/b+c=d&e%f" not in out
    assert "a%2Fb%2Bc%3Dd%26e%25f" not in out
    assert out == f"raw {MASK}; quoted {MASK}; plus {MASK}; raw {MASK}"


def test_redact_masks_a_longer_key_whole() -> None:
    short, long = ApiKey("abcdefgh"), ApiKey("abcdefgh-and-more")
    assert redact("x abcdefgh-and-more y abcdefgh", [short, long]) == f"x {MASK} y {MASK}"


def test_redact_without_keys_is_identity() -> None:
    assert redact("nothing to hide", []) == "nothing to hide"


@SETTINGS
@given(
    st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=8, max_size=40),
    st.lists(st.text(max_size=20), min_size=1, max_size=5),
)
def test_redact_leaves_no_occurrence(value: str, pieces: list[str]) -> None:
    text = value.join(pieces) + value
    out = redact(text, [ApiKey(value)])
    assert value not in out
    assert out.count(MASK) >= text.count(value)
