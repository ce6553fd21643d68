"""harness.transport against real socket servers on 127.0.0.1 (tests/servers.py)."""

from __future__ import annotations

import itertools
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import ConfigError
from harness.transport import (
    ConnectError,
    ConnectionLost,
    HttpClient,
    HttpRequest,
    ProtocolError,
    ReadTimeout,
    RequestError,
    Response,
    ResponseTimeout,
    TransportOptions,
)
from harness.transport._wire import Wire
from tests.servers import (
    Close,
    RecordedRequest,
    Reset,
    Script,
    ScriptedServer,
    Send,
    assert_on_time,
    chunked,
    close_delimited,
    content_length,
    gzip_parts,
    json_array_parts,
    response_head,
)

KEY = "sk-live-0123456789abcdef"


def read_all(response: Response, timeout_s: float = 5.0) -> list[tuple[bytes, float]]:
    out = []
    while True:
        data, t = response.read(timeout_s)
        out.append((data, t))
        if not data:
            return out


def body_of(reads: list[tuple[bytes, float]]) -> bytes:
    return b"".join(d for d, _ in reads)


@pytest.fixture
def client() -> Iterator[HttpClient]:
    c = HttpClient(TransportOptions(connect_timeout_s=2.0, response_timeout_s=5.0))
    yield c
    c.close()


def free_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the acceptance test: every element observed on arrival ---------------------------------


@pytest.mark.parametrize("framing", ["chunked", "content_length"])
def test_elements_200ms_apart_are_read_on_arrival(client: HttpClient, framing: str) -> None:
    items = [b'{"n":%d,"s":"x"}' % i for i in range(5)]
    parts = json_array_parts(items, 0.2)
    script = chunked(parts) if framing == "chunked" else content_length(parts)
    with ScriptedServer(script) as srv:
        response = client.send(HttpRequest("GET", srv.url("/s")))
        reads = read_all(response)
        sent = srv.sent_at[1 : 1 + len(items)]  # [0] is the head
    assert [d for d, _ in reads[:-1]] == [p for _, p in parts]
    times = [t for _, t in reads[:-1]]
    # Each element is seen within 5 ms of its send (same clock, same process): no buffering.
    # One element may take up to 15 ms: a preempted thread on a busy 2-core box (a buffering
    # client would be ~200 ms late, waiting for the next element).
    assert_on_time([t - s for t, s in zip(times, sent, strict=True)])
    gaps = [b - a for a, b in itertools.pairwise(times)]
    sent_gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert_on_time([abs(g - s) for g, s in zip(gaps, sent_gaps, strict=True)])
    assert all(abs(g - 0.2) < 0.03 for g in gaps), gaps  # the server kept its schedule


def test_body_in_the_header_recv_comes_first_with_header_time(client: HttpClient) -> None:
    head_and_body = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n[1,2,3]"
    with ScriptedServer([Send(0.0, head_and_body)]) as srv:
        response = client.send(HttpRequest("GET", srv.url()))
        data, t = response.read(1.0)
        assert (data, t) == (b"[1,2,3]", response.t_headers)
        end, t_end = response.read(1.0)
        assert end == b""
        assert t_end == response.t_headers
        assert response.complete


def test_one_recv_is_one_read(client: HttpClient) -> None:
    three = b"3\r\n[1,\r\n2\r\n2,\r\n2\r\n3]\r\n"
    head = response_head(200, [("Transfer-Encoding", "chunked")])
    script = [Send(0.0, head), Send(0.1, three), Send(0.1, b"0\r\n\r\n")]
    with ScriptedServer(script) as srv:
        response = client.send(HttpRequest("GET", srv.url()))
        reads = read_all(response)
    assert [d for d, _ in reads] == [b"[1,2,3]", b""]


def test_close_delimited_body_ends_at_eof_and_is_not_reused(client: HttpClient) -> None:
    with ScriptedServer(close_delimited([(0.0, b"[1,"), (0.05, b"2]")])) as srv:
        for _ in range(2):
            response = client.send(HttpRequest("GET", srv.url()))
            assert body_of(read_all(response)) == b"[1,2]"
            response.close()
        assert srv.connections == 2


# --- keep-alive -----------------------------------------------------------------------------


def test_keep_alive_reuses_one_connection(client: HttpClient) -> None:
    with ScriptedServer(chunked([(0.0, b"[1]")])) as srv:
        for _ in range(3):
            response = client.send(HttpRequest("POST", srv.url(), body=b"{}"))
            assert body_of(read_all(response)) == b"[1]"
            response.close()
        assert srv.connections == 1
        assert [r.body for r in srv.requests] == [b"{}"] * 3


def test_no_reuse_when_body_not_fully_read_or_server_says_close(client: HttpClient) -> None:
    with ScriptedServer(chunked([(0.0, b"[1"), (0.05, b"]")])) as srv:
        response = client.send(HttpRequest("GET", srv.url()))
        response.read(1.0)
        response.close()  # body unfinished: the socket must go
        response = client.send(HttpRequest("GET", srv.url()))
        read_all(response)
        response.abort()  # the caller says no reuse
        response = client.send(HttpRequest("GET", srv.url()))
        read_all(response)
        response.close()
        assert srv.connections == 3
    closing = content_length([(0.0, b"[]")], headers=[("Connection", "close")])
    with ScriptedServer(closing) as srv:
        for _ in range(2):
            response = client.send(HttpRequest("GET", srv.url()))
            read_all(response)
            response.close()
        assert srv.connections == 2


def test_idle_connection_closed_by_server_is_replaced(client: HttpClient) -> None:
    with ScriptedServer([*content_length([(0.0, b"[]")]), Close(0.02)]) as srv:
        for _ in range(2):
            response = client.send(HttpRequest("GET", srv.url()))
            assert body_of(read_all(response)) == b"[]"
            response.close()
            gevent.sleep(0.15)
        assert srv.connections == 2


def test_a_request_a_reused_connection_may_have_delivered_is_never_sent_again(
    client: HttpClient,
) -> None:
    # The 2nd request arrives on the kept-alive socket and the server closes it unanswered: it
    # read the request (and might have run it), so the client must not send it again.
    def script(request: RecordedRequest) -> Script:
        return [Close()] if len(srv.requests) == 2 else content_length([(0.0, b"[]")])

    with ScriptedServer(script) as srv:
        response = client.send(HttpRequest("POST", srv.url(), body=b"{}"))
        assert body_of(read_all(response)) == b"[]"
        response.close()
        with pytest.raises(ConnectionLost) as info:
            client.send(HttpRequest("POST", srv.url(), body=b"{}"))
        assert "reused keep-alive connection" in str(info.value)
        assert "not sent again" in str(info.value)
        assert (srv.connections, len(srv.requests)) == (1, 2)


def test_a_request_whose_first_write_failed_is_sent_again_once(
    client: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server resets the idle keep-alive connection; the client is made to miss that (as
    # when the reset races the reuse check), so its first write to the dead socket fails:
    # provably nothing left, the one case where the request goes again (and it says so).
    def script(request: RecordedRequest) -> Script:
        if len(srv.requests) == 1:
            return [*content_length([(0.0, b"[]")]), Reset(0.05)]
        return content_length([(0.0, b"[1]")])

    with ScriptedServer(script) as srv:
        response = client.send(HttpRequest("POST", srv.url(), body=b"{}"))
        assert body_of(read_all(response)) == b"[]"
        response.close()
        time.sleep(0.3)  # the reset has arrived
        monkeypatch.setattr(Wire, "readable_now", lambda self: False)
        response = client.send(HttpRequest("POST", srv.url(), body=b"{}"))
        assert response.resent == 1
        assert body_of(read_all(response)) == b"[1]"
        assert (srv.connections, len(srv.requests)) == (2, 2)


# --- failures -------------------------------------------------------------------------------


def test_refused_port_is_a_connect_error(client: HttpClient) -> None:
    port = free_port()
    with pytest.raises(ConnectError) as info:
        client.send(HttpRequest("GET", f"http://127.0.0.1:{port}/x?api_key={KEY}"))
    assert info.value.kind == "refused"
    assert f"127.0.0.1:{port}" in str(info.value)
    assert KEY not in str(info.value)


def test_invalid_name_fails_fast_without_network(client: HttpClient) -> None:
    started = time.perf_counter()
    with pytest.raises(ConnectError) as info:
        client.send(HttpRequest("GET", f"https://nonexistent.invalid/x?api_key={KEY}"))
    assert time.perf_counter() - started < 0.5
    assert info.value.kind == "dns"
    assert "nonexistent.invalid:443" in str(info.value)
    assert KEY not in str(info.value)


def test_connect_timeout() -> None:
    # A listener that never accepts and has a full backlog: the kernel drops our SYNs.
    with socket.create_server(("127.0.0.1", 0), backlog=0) as listener:
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
                fillers.append(s)
            time.sleep(0.05)
            c = HttpClient(TransportOptions(connect_timeout_s=0.3))
            started = time.perf_counter()
            with pytest.raises(ConnectError) as info:
                c.send(HttpRequest("GET", f"http://127.0.0.1:{port}/"))
            elapsed = time.perf_counter() - started
        finally:
            for s in fillers:
                s.close()
    assert info.value.kind == "timeout"
    assert 0.25 < elapsed < 2.0


def test_no_headers_in_time_is_a_response_timeout() -> None:
    c = HttpClient(TransportOptions(response_timeout_s=0.3))
    with ScriptedServer([Send(3.0, b"")]) as srv:
        started = time.perf_counter()
        with pytest.raises(ResponseTimeout):
            c.send(HttpRequest("GET", srv.url(f"/x?api_key={KEY}")))
        assert 0.25 < time.perf_counter() - started < 1.5


def test_read_timeout_is_the_callers(client: HttpClient) -> None:
    with ScriptedServer(chunked([(0.0, b"[1,"), (3.0, b"2]")])) as srv:
        response = client.send(HttpRequest("GET", srv.url()))
        assert response.read(1.0)[0] == b"[1,"
        started = time.perf_counter()
        with pytest.raises(ReadTimeout):
            response.read(0.2)
        assert 0.15 < time.perf_counter() - started < 1.0
        response.abort()


def test_read_by_takes_an_absolute_deadline(client: HttpClient) -> None:
    with ScriptedServer(chunked([(0.0, b"[1,"), (0.3, b"2,"), (3.0, b"3]")])) as srv:
        response = client.send(HttpRequest("GET", srv.url()))
        assert response.read_by(None)[0] == b"[1,"
        data, t = response.read_by(time.perf_counter() + 2.0)
        assert data == b"2,"
        assert t <= time.perf_counter()
        deadline = time.perf_counter() + 0.2
        with pytest.raises(ReadTimeout):
            response.read_by(deadline)
        assert deadline - 0.01 < time.perf_counter() < deadline + 0.8
        with pytest.raises(ReadTimeout):  # a deadline already past: no wait at all
            response.read_by(time.perf_counter() - 1.0)
        response.abort()


@pytest.mark.parametrize(
    "script",
    [
        [*content_length([(0.0, b"[1,")], length=10), Close(0.05)],
        [*chunked([(0.0, b"[1,")], end=False), Close(0.05)],
        [*chunked([(0.0, b"[1,")], end=False), Reset(0.05)],
    ],
    ids=["content-length-short", "chunked-no-end", "reset"],
)
def test_body_cut_short_is_connection_lost(client: HttpClient, script: Script) -> None:
    with ScriptedServer(script) as srv:
        response = client.send(HttpRequest("GET", srv.url(f"/x?api_key={KEY}")))
        assert response.read(1.0)[0] == b"[1,"
        with pytest.raises(ConnectionLost) as info:
            response.read(2.0)
        assert KEY not in str(info.value)
        assert f"127.0.0.1:{srv.port}" in str(info.value)


def test_garbage_is_a_protocol_error(client: HttpClient) -> None:
    garbage = [Send(0.0, b"SSH-2.0-OpenSSH_9.6\r\n\r\n")]
    with ScriptedServer(garbage) as srv, pytest.raises(ProtocolError):
        client.send(HttpRequest("GET", srv.url()))
    bad_chunk = [*chunked([(0.0, b"[1")], end=False), Send(0.05, b"zz\r\nxx\r\n")]
    with ScriptedServer(bad_chunk) as srv:
        response = client.send(HttpRequest("GET", srv.url()))
        assert response.read(1.0)[0] == b"[1"
        with pytest.raises(ProtocolError):
            response.read(1.0)


def test_reset_before_response_is_connection_lost(client: HttpClient) -> None:
    with ScriptedServer([Reset(0.0)]) as srv, pytest.raises(ConnectionLost):
        client.send(HttpRequest("GET", srv.url()))


# --- encodings, headers, HEAD, interim responses --------------------------------------------


@pytest.mark.parametrize(("encoding", "wbits"), [("gzip", 31), ("deflate", 15), ("deflate", -15)])
def test_compressed_body_is_decoded_incrementally(
    client: HttpClient, encoding: str, wbits: int
) -> None:
    parts = [(0.0, b"[1,"), (0.05, b"2,"), (0.05, b"3]")]
    script = chunked(gzip_parts(parts, wbits=wbits), headers=[("Content-Encoding", encoding)])
    with ScriptedServer(script) as srv:
        response = client.send(HttpRequest("GET", srv.url()))
        reads = read_all(response)
    assert [d for d, _ in reads] == [b"[1,", b"2,", b"3]", b""]


def test_unsupported_encoding_is_a_protocol_error(client: HttpClient) -> None:
    script = content_length([(0.0, b"\x0b\x01")], headers=[("Content-Encoding", "br")])
    with ScriptedServer(script) as srv:
        response = client.send(HttpRequest("GET", srv.url()))
        assert response.status == 200
        with pytest.raises(ProtocolError, match="br"):
            response.read(1.0)


def test_request_headers_sent(client: HttpClient) -> None:
    with ScriptedServer(content_length([(0.0, b"[]")])) as srv:
        request = HttpRequest("POST", srv.url("/p?env=1"), (("x-api-key", KEY),), b"[]")
        read_all(client.send(request))
        other = HttpClient(TransportOptions(accept_encoding="gzip"))
        read_all(other.send(HttpRequest("GET", srv.url())))
        other.close()
        first, second = srv.requests
    assert (first.method, first.target, first.body) == ("POST", "/p?env=1", b"[]")
    assert first.headers["accept-encoding"] == "identity"
    assert first.headers["x-api-key"] == KEY
    assert first.headers["host"] == f"127.0.0.1:{srv.port}"
    assert first.headers["content-length"] == "2"
    assert second.headers["accept-encoding"] == "gzip"


def test_response_headers_are_lower_cased(client: HttpClient) -> None:
    script = content_length([(0.0, b"[]")], headers=[("Flow-Job-Id", "job-7"), ("X-A", "1")])
    with ScriptedServer(script) as srv:
        response = client.send(HttpRequest("GET", srv.url()))
        read_all(response)
    assert response.headers["flow-job-id"] == "job-7"
    assert response.headers["x-a"] == "1"
    assert (response.status, response.reason) == (200, "OK")


def test_head_response_has_no_body(client: HttpClient) -> None:
    with ScriptedServer(content_length([], length=100)) as srv:
        response = client.send(HttpRequest("HEAD", srv.url()))
        assert response.read(1.0)[0] == b""
        assert response.headers["content-length"] == "100"


def test_interim_response_is_skipped(client: HttpClient) -> None:
    script = [
        Send(0.0, b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"),
        *chunked([(0.05, b"[]")]),
    ]
    with ScriptedServer(script) as srv:
        response = client.send(HttpRequest("GET", srv.url()))
        assert response.status == 200
        assert "link" not in response.headers
        assert body_of(read_all(response)) == b"[]"


# --- TLS --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("TLS test needs `openssl` (or the cryptography package) to make a certificate")
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


def test_tls_verification(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    with ScriptedServer(content_length([(0.0, b"[1]")]), tls=server_ctx) as srv:
        with pytest.raises(ConnectError) as info:
            HttpClient().send(HttpRequest("GET", srv.url(f"/x?api_key={KEY}")))
        assert info.value.kind == "tls"
        assert KEY not in str(info.value)
        for options in (TransportOptions(verify_tls=False), TransportOptions(ca_bundle=str(cert))):
            response = HttpClient(options).send(HttpRequest("GET", srv.url()))
            assert body_of(read_all(response)) == b"[1]"


def test_missing_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    c = HttpClient(TransportOptions(ca_bundle=str(tmp_path / "nope.pem")))
    with ScriptedServer(content_length([])) as srv, pytest.raises(ConfigError, match="CA bundle"):
        c.send(HttpRequest("GET", srv.url().replace("http:", "https:")))


# --- requests and redaction -------------------------------------------------------------------


def test_repr_and_redacted_url_hide_values() -> None:
    request = HttpRequest(
        "POST",
        f"https://flow.example.com/api/v1/x/stream?env=Production&api_key={KEY}",
        (("x-api-key", KEY), ("content-type", "application/json")),
        b'{"a":1}',
    )
    assert request.redacted_url() == (
        "https://flow.example.com:443/api/v1/x/stream?env=***&api_key=***"
    )
    text = repr(request)
    assert KEY not in text
    assert "Production" not in text
    assert "application/json" not in text
    assert "('x-api-key', '***')" in text
    assert "<7 bytes>" in text


@given(st.text(st.characters(min_codepoint=48, max_codepoint=122, categories=["L", "N"])))
@settings(derandomize=True, max_examples=50)
def test_redaction_property(text: str) -> None:
    secret = f"Zq9{text}"  # a prefix no fixed part of the repr contains
    request = HttpRequest("GET", f"http://h:8080/p?k={secret}&z=1", (("Authorization", secret),))
    assert secret not in repr(request)
    assert secret not in request.redacted_url()


@pytest.mark.parametrize(
    ("method", "url", "headers"),
    [
        ("GET", "ftp://h/x", ()),
        ("GET", "/relative", ()),
        ("G ET", "http://h/", ()),
        ("GET", "http://h/", (("x-a", "v\r\nInjected: 1"),)),
        ("GET", "http://h/", (("bad name", "v"),)),
        ("GET", "http://h/", (("Content-Length", "3"),)),
        ("GET", "http://h:99999/", ()),
    ],
)
def test_invalid_requests_are_rejected(
    method: str, url: str, headers: tuple[tuple[str, str], ...]
) -> None:
    with pytest.raises(RequestError):
        HttpRequest(method, url, headers)


def test_international_host_is_idna_encoded() -> None:
    request = HttpRequest("GET", "https://bücher.example/p?q=1")
    assert request.redacted_url() == "https://xn--bcher-kva.example:443/p?q=***"


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError):
        TransportOptions(connect_timeout_s=0)
    with pytest.raises(ConfigError):
        TransportOptions(recv_bytes=0)


# --- property: any split of bytes and chunks gives back the body -------------------------------


class _Switchboard:
    """Serves whatever script the current Hypothesis example put here (one keep-alive socket)."""

    def __init__(self) -> None:
        self.script: Script = []

    def __call__(self, request: RecordedRequest) -> Script:
        return self.script


@pytest.fixture(scope="module")
def switchboard() -> Iterator[tuple[_Switchboard, ScriptedServer, HttpClient]]:
    board = _Switchboard()
    c = HttpClient(TransportOptions(recv_bytes=257))
    with ScriptedServer(board) as srv:
        yield board, srv, c
    c.close()


@given(
    body=st.binary(min_size=0, max_size=3000),
    cuts=st.lists(st.integers(0, 3000), max_size=8),
    framing=st.sampled_from(["chunked", "content_length", "gzip", "close"]),
)
@settings(
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_any_split_reads_back_the_body(
    switchboard: tuple[_Switchboard, ScriptedServer, HttpClient],
    body: bytes,
    cuts: list[int],
    framing: str,
) -> None:
    board, srv, c = switchboard
    bounds = sorted({0, len(body), *(c for c in cuts if c < len(body))})
    parts = [(0.0, body[a:b]) for a, b in itertools.pairwise(bounds)]
    if framing == "chunked":
        board.script = chunked(parts)
    elif framing == "content_length":
        board.script = content_length(parts)
    elif framing == "close":
        board.script = close_delimited(parts)
    else:
        board.script = chunked(gzip_parts(parts), headers=[("Content-Encoding", "gzip")])
    response = c.send(HttpRequest("GET", srv.url()))
    assert body_of(read_all(response)) == body
    response.close()
