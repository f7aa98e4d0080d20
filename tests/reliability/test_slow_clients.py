"""Issue 19, read timeouts: a client that sends its headers or its body too slowly gets 408 and is
disconnected by a real ``meterbase serve`` (1-second bounds here; 10 s and 30 s by default).

The sockets wait at most 20 s for the server's answer, so a server without the bounds fails the test
instead of hanging it; the assertions are on what the server answers, not on how fast.
"""

from __future__ import annotations

import socket

import pytest

from support.server import start_server, stop_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slow")
    proc, url = start_server(f"sqlite:///{tmp}/slow.db", tmp / "server.log",
                             {"MB_HEADER_TIMEOUT": "1", "MB_BODY_READ_TIMEOUT": "1"})
    yield int(url.rsplit(":", 1)[1])
    stop_server(proc)


def _answer(port: int, sent: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(20)
        s.sendall(sent)
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except socket.timeout:
            pytest.fail(f"the server kept the connection open: {got[:200]!r}")
    return got


@pytest.mark.parametrize("sent", [
    b"",  # connects and says nothing
    b"POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n",  # headers never end
], ids=["silent", "slow headers"])
def test_slow_headers_get_408_and_the_connection_is_closed(server, sent):
    got = _answer(server, sent)
    assert got.startswith(b"HTTP/1.1 408 ") and b"MB_HEADER_TIMEOUT" in got, got[:300]


def test_slow_body_gets_408_naming_the_bound(server):
    got = _answer(server, b"POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 1000\r\n\r\n{\"events\": [")
    assert got.startswith(b"HTTP/1.1 408 ") and b"MB_BODY_READ_TIMEOUT (1 s)" in got, got[:300]


def test_declared_oversized_body_is_refused_before_it_is_sent(server):
    got = _answer(server, b"POST /v1/meters HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 300000000\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 413 ") and b"payload_too_large" in got, got[:300]
