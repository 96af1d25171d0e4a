"""A fake Dropbox API on 127.0.0.1 for ``authorize`` tests: rclone reaches it through
``HTTPS_PROXY`` (a CONNECT proxy on loopback that terminates TLS itself with a throw-away
certificate for ``api.dropboxapi.com``, trusted through ``RCLONE_CA_CERT``). Requests whose bearer
token is in :attr:`FakeDropbox.good` get an empty folder listing; every other token gets Dropbox's
``401 invalid_access_token``. Nothing leaves the machine: the proxy never opens a connection."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

HOSTS = ("api.dropboxapi.com", "content.dropboxapi.com")


def make_cert(base: Path) -> tuple[Path, Path]:
    """A self-signed certificate (and its key) for the Dropbox API host names."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl not installed (apt-get install openssl)")
    cert, key = base / "dropbox-cert.pem", base / "dropbox-key.pem"
    san = ",".join(f"DNS:{host}" for host in HOSTS)
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2"),
            *("-subj", f"/CN={HOSTS[0]}", "-addext", f"subjectAltName={san}"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class FakeDropbox:
    """The proxy + fake API; :attr:`env` is what rclone needs to use it."""

    cert: Path
    key: Path
    good: set[str] = field(default_factory=set)
    seen: list[str] = field(default_factory=list)
    sock: socket.socket = field(default_factory=socket.socket)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def env(self) -> dict[str, str]:
        """Environment for rclone: the proxy and the certificate to trust."""
        url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        return {"HTTPS_PROXY": url, "https_proxy": url, "RCLONE_CA_CERT": str(self.cert)}

    def start(self) -> None:
        """Listen on a free loopback port and serve in a daemon thread."""
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        """Stop accepting connections."""
        self.stopping.set()
        self.sock.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            if not head.startswith(b"CONNECT "):
                conn.sendall(b"HTTP/1.1 405 Only CONNECT\r\nContent-Length: 0\r\n\r\n")
                return
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert, self.key)
            context.set_alpn_protocols(["http/1.1"])
            tls = context.wrap_socket(conn, server_side=True)
            _Api(tls, ("127.0.0.1", 0), self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def answer(self, path: str, auth: str) -> tuple[int, dict[str, Any]]:
        """Status and JSON body for a call of ``path`` with the header ``Authorization: auth``."""
        self.seen.append(path)
        token = auth.removeprefix("Bearer ").strip()
        if token not in self.good:
            return 401, {
                "error_summary": "invalid_access_token/..",
                "error": {".tag": "invalid_access_token"},
            }
        if path.startswith("/2/files/list_folder"):
            return 200, {"entries": [], "cursor": "c0", "has_more": False}
        return 200, {}


class _Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, body = self.server.answer(self.path, self.headers.get("Authorization", ""))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def dropbox_token(access: str) -> str:
    """An rclone token JSON for ``access`` that needs no refresh."""
    return json.dumps(
        {"access_token": access, "token_type": "bearer", "expiry": "2099-01-01T00:00:00Z"}
    )
