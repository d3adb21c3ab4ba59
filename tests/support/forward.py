"""A TCP port in front of a unix socket, for a process that may not open the socket itself.

The embedded PostgreSQL keeps its socket in its data directory (mode 0700: PostgreSQL insists),
so a process running as another user — the compose test's non-root "container" — cannot reach
it. A deployment reaches its servers over TCP anyway; this gives the test the same."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def _relay(client: socket.socket, path: str) -> None:
    """One connection, both ways, until both sides are done; then both sockets are closed."""
    with client, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as upstream:
        try:
            upstream.connect(path)
        except OSError:
            return
        back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
        back.start()
        _pipe(client, upstream)
        back.join()


@contextlib.contextmanager
def tcp_to_unix(path: str) -> Iterator[int]:
    """Listen on 127.0.0.1 (a free port, yielded) and relay each connection to `path`."""
    listener = socket.create_server(("127.0.0.1", 0))
    relays: list[threading.Thread] = []

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            relay = threading.Thread(target=_relay, args=(client, path), daemon=True)
            relay.start()
            relays.append(relay)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(timeout=5)
        for relay in relays:
            relay.join(timeout=5)


@contextlib.contextmanager
def over_tcp(database_url: str, redis_url: str) -> Iterator[tuple[str, str]]:
    """The two servers' URLs as TCP URLs: unchanged when they already are, relayed when they
    name unix sockets (`postgresql://…?host=/dir`, `unix:///path?db=N`)."""
    with contextlib.ExitStack() as stack:
        pg = urlsplit(database_url)
        socket_dir = parse_qs(pg.query).get("host", [""])[0]
        if socket_dir.startswith("/"):
            port = stack.enter_context(tcp_to_unix(f"{socket_dir}/.s.PGSQL.5432"))
            user = pg.username or "postgres"
            database_url = urlunsplit(
                ("postgresql", f"{quote(user)}@127.0.0.1:{port}", pg.path, "", "")
            )
        rd = urlsplit(redis_url)
        if rd.scheme == "unix":
            port = stack.enter_context(tcp_to_unix(rd.path))
            db = parse_qs(rd.query).get("db", ["0"])[0]
            redis_url = f"redis://127.0.0.1:{port}/{db}"
        yield database_url, redis_url
