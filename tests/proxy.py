"""A TCP proxy on 127.0.0.1 for fault tests: it forwards every connection to a target port and
can be switched to *stall* — accept connections and forward nothing, either at once
(:meth:`StallingProxy.stall`) or once a given number of bytes has gone from the server to the
clients (:meth:`StallingProxy.stall_after`, which stops a download mid-transfer). Nothing is
dropped while stalled: :meth:`StallingProxy.unstall` lets the held bytes through again."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from types import TracebackType

#: How long a blocked pump waits before it checks again whether the proxy was stopped.
_POLL = 0.1
_CHUNK = 64 * 1024


class StallingProxy:
    """Forwards ``127.0.0.1:<port>`` to ``127.0.0.1:<target>``; use as a context manager (or
    call :meth:`stop`)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_POLL)
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._budget: int | None = None  # downstream bytes left before stalling
        #: Bytes received from the server for the clients, over all connections.
        self.downstream = 0
        #: Connections accepted so far.
        self.accepted = 0
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept_loop)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def stalled(self) -> bool:
        """True while nothing is forwarded."""
        return not self._flowing.is_set()

    def stall(self) -> None:
        """Stop forwarding now, in both directions, on every connection (new ones included)."""
        self._flowing.clear()

    def stall_after(self, nbytes: int) -> None:
        """Keep forwarding until ``nbytes`` more bytes have gone to the clients, then stall."""
        with self._lock:
            self._budget = nbytes
        self._flowing.set()

    def unstall(self) -> None:
        """Forward again (the bytes held while stalled go through first)."""
        with self._lock:
            self._budget = None
        self._flowing.set()

    def stop(self) -> None:
        """Close the listener and every connection; wait for the proxy's threads."""
        self._closed.set()
        self._flowing.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> StallingProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self.accepted += 1
                self._sockets += [client, server]
            self._spawn(self._pump, client, server, False)
            self._spawn(self._pump, server, client, True)

    def _pump(self, src: socket.socket, dst: socket.socket, downstream: bool) -> None:
        with contextlib.suppress(OSError):
            for chunk in self._chunks(src):
                for part in self._metered(chunk, downstream):
                    if not self._wait_flowing():
                        return
                    dst.sendall(part)
            dst.shutdown(socket.SHUT_WR)

    def _chunks(self, sock: socket.socket) -> Iterator[bytes]:
        while not self._closed.is_set():
            data = sock.recv(_CHUNK)
            if not data:
                return
            yield data

    def _metered(self, chunk: bytes, downstream: bool) -> Iterator[bytes]:
        """``chunk`` in the parts to send: split where the downstream budget runs out, and the
        proxy stalls at that point."""
        if not downstream:
            yield chunk
            return
        with self._lock:
            self.downstream += len(chunk)
            budget = self._budget
            if budget is not None:
                self._budget = budget - len(chunk) if len(chunk) < budget else None
        if budget is None or len(chunk) < budget:
            yield chunk
            return
        yield chunk[:budget]
        self._flowing.clear()
        if chunk[budget:]:
            yield chunk[budget:]

    def _wait_flowing(self) -> bool:
        """Block while stalled; False once the proxy is stopped."""
        while not self._flowing.wait(_POLL):
            if self._closed.is_set():
                return False
        return not self._closed.is_set()
