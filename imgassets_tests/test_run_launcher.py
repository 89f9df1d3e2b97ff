"""The local run launcher's liveness probe: a code server is gone only when nothing listens at its address."""

import socket
from pathlib import Path

from imgassets.stack.run_launcher import _gone


def test_a_tcp_code_server_is_gone_only_when_its_port_refuses() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not _gone("127.0.0.1", port, None)
    assert _gone("127.0.0.1", port, None)  # closed now: connection refused


def test_a_unix_socket_code_server_is_gone_when_its_socket_is(tmp_path: Path) -> None:
    path = str(tmp_path / "grpc.sock")
    assert _gone("localhost", None, path)  # no socket file
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen()
        assert not _gone("localhost", None, path)
    assert _gone("localhost", None, path)  # file left behind, nobody listening
