"""What stands between a load generator and a production API, as real servers for tests.

* :class:`ForwardProxy`: proxy.py (a forward proxy users run), with Basic credentials;
* :class:`BufferingProxy`: a reverse proxy that holds the whole upstream body back, as nginx
  with buffering and gzip did;
* :class:`Http2OnlyServer`: answers an HTTP/1.1 request the way an HTTP/2-only server does, with
  its SETTINGS and a GOAWAY (the ``h2`` package speaks the protocol);
* :func:`make_pki`: a test CA (``trustme``) with a server certificate for 127.0.0.1 and a client
  certificate, as PEM files.

All listen on 127.0.0.1 with ports the OS chose, and stop with their ``with`` block.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import h2.config
import h2.connection
import h2.errors
import h2.exceptions
import trustme


@dataclass(frozen=True)
class Pki:
    """PEM files of a test CA, a server certificate (127.0.0.1) and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(directory: Path) -> Pki:
    """A fresh CA with one server and one client certificate, written into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    client = ca.issue_cert("flowload-client@example.com")
    paths = Pki(
        *(directory / n for n in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key"))
    )
    ca.cert_pem.write_to_path(str(paths.ca))
    server.cert_chain_pems[0].write_to_path(str(paths.server_cert))
    server.private_key_pem.write_to_path(str(paths.server_key))
    client.cert_chain_pems[0].write_to_path(str(paths.client_cert))
    client.private_key_pem.write_to_path(str(paths.client_key))
    return paths


class _Context:
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving."""
        raise NotImplementedError


class ForwardProxy(_Context):
    """proxy.py in a subprocess: CONNECT tunnels and absolute-form requests, Basic auth."""

    def __init__(self, tmp: Path, *, user: str, password: str) -> None:
        port_file = tmp / "proxy.port"
        self.log = tmp / "proxy.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", "0",
                    "--port-file", str(port_file), "--basic-auth", f"{user}:{password}",
                    "--num-workers", "1", "--num-acceptors", "1", "--log-level", "INFO",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"proxy.py did not start: {self.log.read_text()[-500:]}")
            time.sleep(0.05)
        self.port = int(port_file.read_text().strip())

    def stop(self) -> None:
        """Stop the proxy process."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class _ThreadServer(_Context):
    """Accepts on 127.0.0.1:0 in a thread; ``handle(sock)`` per connection, in a thread."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._guarded, args=(sock,), daemon=True).start()

    def _guarded(self, sock: socket.socket) -> None:
        with sock:
            sock.settimeout(10)
            with contextlib.suppress(OSError):  # the client went away: nothing to answer
                self.handle(sock)

    def handle(self, sock: socket.socket) -> None:
        """Serve one connection."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop accepting."""
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()


def _read_request(sock: socket.socket) -> tuple[str, str, dict[str, str], bytes] | None:
    """One HTTP/1.1 request with a Content-Length body (None on EOF)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        body += sock.recv(65536)
    return method, target, headers, body


class BufferingProxy(_ThreadServer):
    """A reverse proxy to ``upstream`` that sends a response only once it has all of it."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit("//", 1)[1].rsplit(":", 1)
        self._upstream = (host, int(port.rstrip("/")))
        super().__init__()

    def handle(self, sock: socket.socket) -> None:
        """Forward each request; buffer the whole body; send it with a Content-Length."""
        while (request := _read_request(sock)) is not None:
            method, target, headers, body = request
            upstream = http.client.HTTPConnection(*self._upstream, timeout=30)
            keep = {k: v for k, v in headers.items() if k not in ("host", "content-length")}
            upstream.request(method, target, body=body or None, headers=keep)
            reply = upstream.getresponse()
            whole = reply.read()  # the whole stream, however long it takes
            upstream.close()
            kind = reply.getheader("content-type", "application/json")
            head = f"HTTP/1.1 {reply.status} {reply.reason}\r\nContent-Type: {kind}\r\n"
            head += f"Content-Length: {len(whole)}\r\n\r\n"
            sock.sendall(head.encode("latin-1") + whole)


class Http2OnlyServer(_ThreadServer):
    """Speaks only HTTP/2 (prior knowledge): an HTTP/1.1 request gets SETTINGS, then GOAWAY."""

    def handle(self, sock: socket.socket) -> None:
        """Answer as an h2-only server does when a client does not send the HTTP/2 preface."""
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        data = sock.recv(65536)
        try:
            conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            conn.close_connection(error_code=h2.errors.ErrorCodes.PROTOCOL_ERROR)
        sock.sendall(conn.data_to_send())
