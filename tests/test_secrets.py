"""ApiKey never shows its value; keys and credentials are masked, other values (env) are not."""

from __future__ import annotations

import copy
import logging
import pickle
import string
from urllib.parse import quote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from harness.errors import ConfigError
from harness.run.measure import StreamLimits, measure_stream
from harness.secrets import (
    MASK,
    ApiKey,
    is_secret_name,
    mask_echoes,
    mask_key_text,
    redact,
    request_secrets,
)
from harness.transport import HttpClient, HttpRequest, TransportOptions
from tests.servers import ScriptedServer, content_length

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


# --- what is secret: the key and credentials, never the env -------------------------------


def test_a_401_body_keeps_the_env_and_masks_the_key() -> None:
    """A wrong key: the server names the env (not secret) and echoes the key (secret)."""
    body = f"the API key {UNIQUE} is not valid for env Production (keys differ per env)"
    client = HttpClient(TransportOptions(connect_timeout_s=2.0, response_timeout_s=3.0))
    with ScriptedServer(content_length([(0.0, body.encode())], status=401)) as srv:
        url = srv.url(f"/stream?env=Production&api_key={UNIQUE}")
        headers = (("x-api-key", UNIQUE), ("content-type", "application/json"))
        request = HttpRequest("POST", url, headers, b"{}")
        limits = StreamLimits(limit_s=5.0, stall_timeout_s=2.0)
        result = measure_stream(client, request, env="Production", flow="f", limits=limits)
    client.close()
    assert result.error == (
        f"HTTP 401 Error: the API key {MASK} is not valid for env Production (keys differ per env)"
    )


def test_request_secrets_are_the_key_and_credentials_only() -> None:
    url = f"https://user:pa55word@h/p?env=Production&api_key={UNIQUE}&flowId=abcdef-1234"
    headers = [
        ("x-api-key", "header-key-123"),
        ("Authorization", "Bearer tok.en.value"),
        ("content-type", "application/json"),
        ("x-flowload-fault", "status:503"),
    ]
    found = set(request_secrets(url, headers))
    for secret in (UNIQUE, "header-key-123", "Bearer tok.en.value", "tok.en.value", "pa55word"):
        assert secret in found
    for plain in ("Production", "application/json", "status:503", "abcdef-1234", "user"):
        assert plain not in found
    assert quote("Bearer tok.en.value", safe="") in found  # the spellings a server may echo


def test_a_token_as_url_user_is_secret() -> None:
    assert "t0ken-as-user" in request_secrets("https://t0ken-as-user@h/p", [])


def test_mask_echoes_masks_a_piece_of_a_key_cut_in_an_error() -> None:
    key = "k3y-0123456789abcdef"
    text = 'malformed JSON at byte 40, got b\'bcdef", "x": k3y-0123456789a\' for env Production'
    masked = mask_echoes(text, request_secrets(f"http://h/?api_key={key}", []))
    assert "k3y-0123456789a" not in masked
    assert MASK in masked
    assert masked.endswith("for env Production")
    assert mask_echoes("nothing secret here", (key,)) == "nothing secret here"


@SETTINGS
@given(
    st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=8, max_size=64),
    st.text(alphabet=string.ascii_letters + " ", max_size=40),
    st.integers(min_value=0, max_value=64),
    st.integers(min_value=8, max_value=64),
)
def test_mask_echoes_leaves_no_piece_of_8_or_more(
    key: str, filler: str, start: int, size: int
) -> None:
    piece = key[start : start + size]
    assume(len(piece) >= 8)
    out = mask_echoes(f"{filler}{piece}{filler}{key}", (key,))
    for i in range(len(key) - 7):
        assert key[i : i + 8] not in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"GET /s?env=Production&api_key={UNIQUE} failed",
            f"GET /s?env=Production&api_key={MASK} failed",
        ),
        (f"x-api-key: {UNIQUE}; env Test", f"x-api-key: {MASK}; env Test"),
        (f"Authorization: Bearer {UNIQUE}", f"Authorization: Bearer {MASK}"),
        (
            f"proxy http://user:{UNIQUE}@proxy:3128 refused",
            f"proxy http://{MASK}@proxy:3128 refused",
        ),
        ("not valid for env Production", "not valid for env Production"),
    ],
)
def test_mask_key_text_masks_keys_not_envs(text: str, expected: str) -> None:
    assert mask_key_text(text) == expected


def test_secret_names() -> None:
    for name in ("api_key", "X-API-KEY", "Authorization", "Proxy-Authorization", "access_token",
                 "client_secret", "Cookie", "password"):  # fmt: skip
        assert is_secret_name(name), name
    for name in ("env", "flowId", "content-type", "x-flowload-fault", "accept"):
        assert not is_secret_name(name), name
