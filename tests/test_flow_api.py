"""Envs, auth modes, bodies, URLs, pasted endpoints, request building and URL redaction."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlsplit

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import ConfigError
from harness.flow_api import (
    AuthMode,
    BinaryBody,
    Body,
    Env,
    FlowTarget,
    JsonBody,
    NoBody,
    build_stream_request,
    parse_auth_mode,
    parse_env,
    parse_execution_endpoint,
)
from harness.secrets import ApiKey, redact_url
from harness.transport import HttpRequest

# Seeded (a failure replays exactly) and no deadline (the machine is shared).
SETTINGS = settings(derandomize=True, deadline=None)


KEY = "fk_unique_Zq81mPx4Rt7Wv2Ls9Hd3"
TARGET = FlowTarget("https://flow.example.com", "acme", "sales")
FLOW = "9d3c6f1e-1111-2222-3333-444455556666"
EXAMPLE = f"https://flow.example.com/api/v1/tenants/acme/workspaces/sales/flows/{FLOW}/stream"


# --- environments and auth modes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "env"),
    [
        ("Development", Env.DEVELOPMENT),
        ("development", Env.DEVELOPMENT),
        ("TEST", Env.TEST),
        (" Production ", Env.PRODUCTION),
        (0, Env.DEVELOPMENT),
        (1, Env.TEST),
        (2, Env.PRODUCTION),
        ("0", Env.DEVELOPMENT),
        ("2", Env.PRODUCTION),
    ],
)
def test_parse_env(value: str | int, env: Env) -> None:
    assert parse_env(value) is env


@pytest.mark.parametrize("value", ["Prod", "", "3", "-1", "01", 3, -1, True, "1.0"])
def test_parse_env_rejects_unknown_and_lists_valid_values(value: str | int) -> None:
    with pytest.raises(ConfigError, match="Development, Test, Production") as info:
        parse_env(value)
    assert "0, 1, 2" in str(info.value)


def test_env_index_and_value() -> None:
    assert [e.index for e in Env] == [0, 1, 2]
    assert [e.value for e in Env] == ["Development", "Test", "Production"]
    assert all(parse_env(e.index) is e for e in Env)


def test_parse_auth_mode() -> None:
    assert parse_auth_mode("Header") is AuthMode.HEADER
    assert parse_auth_mode(" query") is AuthMode.QUERY
    with pytest.raises(ConfigError, match="header, query"):
        parse_auth_mode("both")


# --- bodies ------------------------------------------------------------------------------


def test_json_body_is_encoded_once_with_orjson() -> None:
    body = JsonBody({"customer": 42, "name": "Åse"})
    assert body.payload == orjson.dumps({"customer": 42, "name": "Åse"})
    assert body.payload is body.encoded
    assert body.content_type == "application/json"


def test_json_body_that_cannot_be_encoded() -> None:
    with pytest.raises(ConfigError, match="cannot be encoded"):
        JsonBody({"x": object()})
    with pytest.raises(ConfigError, match="cannot be encoded"):
        JsonBody(2**70)


def test_binary_body_repr_hides_the_bytes_and_checks_content_type() -> None:
    body = BinaryBody(b"\x00secret-payload\xff", "application/x-custom")
    assert "secret-payload" not in repr(body)
    assert "16 bytes" in repr(body)
    assert body.payload == b"\x00secret-payload\xff"
    for bad in ("", "text/plain\r\nx-api-key: 1"):
        with pytest.raises(ConfigError, match="content_type"):
            BinaryBody(b"x", bad)


def test_no_body() -> None:
    assert NoBody().payload is None
    assert NoBody().content_type is None


# --- targets and paths -------------------------------------------------------------------


def test_stream_path_and_siblings() -> None:
    assert TARGET.stream_path(FLOW) == (
        f"/api/v1/tenants/acme/workspaces/sales/flows/{FLOW}/stream"
    )
    assert TARGET.flow_path(FLOW, "run").endswith(f"/flows/{FLOW}/run")
    assert TARGET.flow_path(FLOW, "submit").endswith(f"/flows/{FLOW}/submit")
    assert TARGET.flow_url(FLOW) == EXAMPLE
    with pytest.raises(ConfigError, match="stream, run, submit"):
        TARGET.flow_path(FLOW, "delete")


def test_path_segments_are_percent_encoded() -> None:
    target = FlowTarget("http://127.0.0.1:8080/prefix/", "a/b c", "wö?#")
    path = target.stream_path("f%1")
    assert path == "/api/v1/tenants/a%2Fb%20c/workspaces/w%C3%B6%3F%23/flows/f%251/stream"
    assert target.base_url == "http://127.0.0.1:8080/prefix"
    assert target.flow_url("f").startswith("http://127.0.0.1:8080/prefix/api/v1/tenants/")


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("ftp://flow.example.com", "http:// or https://"),
        ("flow.example.com", "http:// or https://"),
        ("https://", "no host"),
        ("https://flow.example.com?x=1", "query or fragment"),
        ("https://flow.example.com#top", "query or fragment"),
        ("https://user:pw@flow.example.com", "user:password@"),
        ("https://flow.example.com:99999", "malformed"),
    ],
)
def test_bad_base_urls(base: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        FlowTarget(base, "acme", "sales")


@pytest.mark.parametrize(
    ("tenant", "workspace"), [("", "w"), ("t", ""), ("..", "w"), ("t", "a\nb")]
)
def test_bad_segments(tenant: str, workspace: str) -> None:
    with pytest.raises(ConfigError):
        FlowTarget("https://h", tenant, workspace)


def test_base_url_with_a_key_in_the_query_is_refused_without_echo() -> None:
    with pytest.raises(ConfigError, match="remove it") as info:
        FlowTarget(f"https://flow.example.com?api_key={KEY}", "acme", "sales")
    assert KEY not in str(info.value)


# --- pasted endpoints --------------------------------------------------------------------


def test_parse_the_designer_example() -> None:
    parsed = parse_execution_endpoint(EXAMPLE + "?env=Production")
    assert parsed.target == TARGET
    assert parsed.flow_id == FLOW
    assert parsed.env is Env.PRODUCTION
    assert parsed.action == "stream"


@pytest.mark.parametrize(
    ("suffix", "env", "action"),
    [
        ("/stream", None, "stream"),
        ("/stream/", None, "stream"),
        ("", None, "stream"),
        ("/run?env=1", Env.TEST, "run"),
        ("/submit?env=development", Env.DEVELOPMENT, "submit"),
        ("/stream?env={env}&api_key={apikey}", None, "stream"),
    ],
)
def test_parse_variants(suffix: str, env: Env | None, action: str) -> None:
    url = f"http://localhost:8443/flow/api/v1/tenants/t1/workspaces/w1/flows/f1{suffix}"
    parsed = parse_execution_endpoint(url)
    assert parsed.target == FlowTarget("http://localhost:8443/flow", "t1", "w1")
    assert (parsed.flow_id, parsed.env, parsed.action) == ("f1", env, action)


@pytest.mark.parametrize("name", ["api_key", "API_KEY", "apikey", "x-api-key"])
def test_pasted_key_is_refused_and_never_echoed(name: str) -> None:
    with pytest.raises(ConfigError, match="env var") as info:
        parse_execution_endpoint(f"{EXAMPLE}?env=Production&{name}={KEY}")
    assert KEY not in str(info.value)
    assert "remove it" in str(info.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://flow.example.com/api/v1/tenants/a/workspaces/b/flows/c/stream", "http"),
        ("https:///api/v1/tenants/a/workspaces/b/flows/c/stream", "no host"),
        ("https://flow.example.com/api/v1/tenants/a/flows/c/stream", "expected shape"),
        ("https://flow.example.com/", "expected shape"),
        ("https://h/api/v1/tenants/{tenantId}/workspaces/w/flows/f/stream", "placeholder"),
        ("https://h/api/v1/tenants/t/workspaces/w/flows/f/cancel", "stream, run, submit"),
        ("https://h/api/v1/tenants/t/workspaces/w/flows/f/stream?env=Staging", "unknown env"),
        ("https://h/api/v1/tenants/t/workspaces/w/flows/../stream", "'.' or '..'"),
    ],
)
def test_bad_endpoints_name_what_was_expected(url: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_execution_endpoint(url)


def test_bad_endpoint_message_redacts_other_secrets() -> None:
    with pytest.raises(ConfigError) as info:
        parse_execution_endpoint(f"https://h/not/flow?token={KEY}")
    assert KEY not in str(info.value)


_segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda s: s not in {".", ".."})
_host = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9]{0,5}){0,2}", fullmatch=True)


@SETTINGS
@given(
    scheme=st.sampled_from(["http", "https"]),
    host=_host,
    port=st.none() | st.integers(1, 65535),
    prefix=st.lists(st.from_regex(r"[A-Za-z0-9_~.-]{1,8}", fullmatch=True), max_size=3).filter(
        lambda p: all(s not in {".", ".."} for s in p)
    ),
    tenant=_segment,
    workspace=_segment,
    flow=_segment,
    env=st.none() | st.sampled_from(list(Env)),
    action=st.sampled_from(["stream", "run", "submit"]),
)
def test_endpoint_round_trip(
    *,
    scheme: str,
    host: str,
    port: int | None,
    prefix: list[str],
    tenant: str,
    workspace: str,
    flow: str,
    env: Env | None,
    action: str,
) -> None:
    netloc = host if port is None else f"{host}:{port}"
    target = FlowTarget(
        f"{scheme}://{netloc}" + "".join("/" + p for p in prefix), tenant, workspace
    )
    url = target.flow_url(flow, action) + ("" if env is None else f"?env={env.value}")
    parsed = parse_execution_endpoint(url)
    assert parsed.target == target
    assert (parsed.flow_id, parsed.env, parsed.action) == (flow, env, action)


# --- building requests -------------------------------------------------------------------


def _query(request: HttpRequest) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query, keep_blank_values=True)


def test_header_auth_puts_the_key_in_the_header_only() -> None:
    request = build_stream_request(
        TARGET, FLOW, Env.PRODUCTION, ApiKey(KEY), AuthMode.HEADER, JsonBody({"customer": 42})
    )
    assert request.method == "POST"
    assert request.url == f"{EXAMPLE}?env=Production"
    assert ("x-api-key", KEY) in request.headers
    assert ("Content-Type", "application/json") in request.headers
    assert request.body == b'{"customer":42}'
    assert KEY not in request.url


def test_query_auth_puts_the_key_in_the_query_only() -> None:
    odd = "k+/=&%?#;x"  # must survive URL quoting
    request = build_stream_request(TARGET, FLOW, Env.TEST, ApiKey(odd), AuthMode.QUERY, NoBody())
    assert _query(request) == {"env": ["Test"], "api_key": [odd]}
    assert all(name.lower() != "x-api-key" for name, _ in request.headers)
    assert all(name.lower() != "content-type" for name, _ in request.headers)
    assert request.body is None


def test_no_key_means_no_key_anywhere() -> None:
    for auth in AuthMode:
        request = build_stream_request(TARGET, FLOW, Env.DEVELOPMENT, None, auth, NoBody())
        assert _query(request) == {"env": ["Development"]}
        assert request.headers == ()


def test_binary_body_and_method_normalisation() -> None:
    body = BinaryBody(b"\x01\x02", "application/x-protobuf")
    request = build_stream_request(
        TARGET, FLOW, Env.TEST, None, AuthMode.HEADER, body, method="post",
        extra_headers={"Accept": "application/json", "X-Trace": "abc"},
    )  # fmt: skip
    assert request.method == "POST"
    assert request.body == b"\x01\x02"
    assert request.headers == (
        ("Content-Type", "application/x-protobuf"),
        ("Accept", "application/json"),
        ("X-Trace", "abc"),
    )
    assert "abc" not in repr(request)


def test_get_without_body_is_fine_and_with_body_is_refused() -> None:
    request = build_stream_request(TARGET, FLOW, Env.TEST, None, AuthMode.QUERY, NoBody(), "get")
    assert (request.method, request.body) == ("GET", None)
    with pytest.raises(ConfigError, match="GET request cannot carry a body"):
        build_stream_request(TARGET, FLOW, Env.TEST, None, AuthMode.QUERY, JsonBody(1), "GET")
    with pytest.raises(ConfigError, match="POST or GET"):
        build_stream_request(TARGET, FLOW, Env.TEST, None, AuthMode.QUERY, NoBody(), "PUT")


@pytest.mark.parametrize("auth", list(AuthMode))
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Api-Key": KEY}, "api_key_env"),
        ({"x-api-KEY": KEY}, "api_key_env"),
        ({"Content-Length": "3"}, "set by the transport"),
        ({"Host": "evil"}, "set by the transport"),
        ({"Content-Type": "text/plain"}, "set by the body"),
        ({"bad name": "x"}, "valid HTTP token"),
        ({"X-A": "a\r\nb"}, "line breaks"),
        ({"X-A": "€"}, "latin-1"),
    ],
)
def test_bad_extra_headers(auth: AuthMode, headers: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as info:
        build_stream_request(
            TARGET, FLOW, Env.TEST, ApiKey(KEY), auth, JsonBody({}), extra_headers=headers
        )
    assert KEY not in str(info.value)


_bodies: st.SearchStrategy[Body] = st.one_of(
    st.just(NoBody()),
    st.builds(JsonBody, st.dictionaries(st.text(max_size=5), st.integers(-5, 5), max_size=3)),
    st.builds(BinaryBody, st.binary(max_size=20)),
)


@SETTINGS
@given(
    auth=st.sampled_from(list(AuthMode)),
    env=st.sampled_from(list(Env)),
    body=_bodies,
    key=st.from_regex(r"[A-Za-z0-9_\-]{24,40}", fullmatch=True),
)
def test_key_goes_in_exactly_one_place_and_never_in_repr(
    auth: AuthMode, env: Env, body: Body, key: str
) -> None:
    request = build_stream_request(TARGET, FLOW, env, ApiKey(key), auth, body)
    in_header = [value for name, value in request.headers if name.lower() == "x-api-key"]
    in_query = _query(request).get("api_key", [])
    assert (in_header, in_query) == (([key], []) if auth is AuthMode.HEADER else ([], [key]))
    assert _query(request)["env"] == [env.value]
    assert key not in repr(request)
    assert key not in request.redacted_url()
    assert key not in redact_url(request.url)
    has_type = any(name == "Content-Type" for name, _ in request.headers)
    assert has_type is not isinstance(body, NoBody)


# --- on the wire: what a real server receives --------------------------------------------


@dataclass
class _Seen:
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[tuple[str, _Seen]]:
    seen = _Seen()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen.requests.append((self.command, self.path, headers, body))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"[]")

        do_GET = do_POST = _handle  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass  # keep test output clean

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/base", seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _send(request: HttpRequest) -> int:
    import http.client

    parts = urlsplit(request.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        conn.request(
            request.method, f"{parts.path}?{parts.query}", body=request.body,
            headers=dict(request.headers),
        )  # fmt: skip
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.mark.parametrize("auth", list(AuthMode))
def test_a_real_server_sees_the_key_in_exactly_one_place(
    server: tuple[str, _Seen], auth: AuthMode
) -> None:
    base, seen = server
    target = FlowTarget(base, "acme corp", "sales/eu")
    request = build_stream_request(
        target, "flow 1", Env.PRODUCTION, ApiKey(KEY), auth, JsonBody({"n": 1})
    )
    assert _send(request) == 200
    [(method, path, headers, body)] = seen.requests
    assert method == "POST"
    assert body == b'{"n":1}'
    parts = urlsplit(path)
    quoted = f"/base/api/v1/tenants/{quote('acme corp', safe='')}/workspaces/sales%2Feu"
    assert parts.path == f"{quoted}/flows/flow%201/stream"
    query = parse_qs(parts.query)
    assert query["env"] == ["Production"]
    assert headers["content-type"] == "application/json"
    if auth is AuthMode.HEADER:
        assert headers["x-api-key"] == KEY
        assert "api_key" not in query
    else:
        assert query["api_key"] == [KEY]
        assert "x-api-key" not in headers


# --- redaction ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{EXAMPLE}?env=Test&api_key={KEY}", f"{EXAMPLE}?env=Test&api_key=***"),
        (f"https://h/p?access_token={KEY}&x=1", "https://h/p?access_token=***&x=1"),
        (f"https://h/p?client_secret={KEY}", "https://h/p?client_secret=***"),
        (f"https://h/p?X-API-KEY={KEY}", "https://h/p?X-API-KEY=***"),
        (f"https://u:{KEY}@h:8080/p", "https://***@h:8080/p"),
        ("https://h/p?env=Production", "https://h/p?env=Production"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        f"https://h/p?next=/cb?api_key={KEY}",
        f"https://h/p?next=%2Fcb%3Fapi_key%3D{KEY}",
        f"https://h/p#?api_key={KEY}",
        f"https://h/p#access_token={KEY}&state=1",
    ],
)
def test_redact_url_finds_nested_and_fragment_secrets(url: str) -> None:
    assert KEY not in redact_url(url)


def test_redact_url_on_unparseable_input_drops_query_and_userinfo() -> None:
    out = redact_url(f"http://u:{KEY}@[::1/p?api_key={KEY}")
    assert KEY not in out
    assert out.startswith("http://")


@SETTINGS
@given(st.text(max_size=60), st.from_regex(r"[A-Za-z0-9]{20,30}", fullmatch=True))
def test_redact_url_never_raises_and_hides_keys(prefix: str, key: str) -> None:
    out = redact_url(f"{prefix}?api_key={key}")
    assert isinstance(out, str)
    assert key not in out
