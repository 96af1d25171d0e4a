"""Real third-party servers on 127.0.0.1 for the tests: a private OpenSSH ``sshd`` (SFTP through
``internal-sftp``), a ``wsgidav`` WebDAV server on ``cheroot``, a ``pyftpdlib`` FTP server and
moto's S3 server (``moto[server]``).

Unlike ``rclone serve``, these write an upload in place under its final name while it is still
arriving (measured, see rclone-notes.md), which is what the inbound settle tests need. Each
``start_*`` raises :class:`ServerUnavailable` with a one-line reason (and the fix) when the server
is not installed or cannot start here; the fixtures turn that into a skip.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import free_port

SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/local/sbin"])
APT_SSH = "apt-get install openssh-server openssh-client"
DAV_USER, DAV_PASS = "davuser", "dav-Pa55-word-5120"
FTP_USER, FTP_PASS = "ftpuser", "ftp-Pa55-word-6631"
MOTO_KEY, MOTO_SECRET = "AKIDMOTOTESTKEY", "moto-s3cr3t-Test-Value-27"
PIP_TEST = "pip install -e '.[test]'"


class ServerUnavailable(Exception):
    """The server cannot run on this machine; the message says why and how to fix it."""


def _wait_port(port: int, alive: Any, timeout: float = 10.0) -> bool:
    """True once 127.0.0.1:``port`` accepts a connection; False when ``alive()`` turns false
    or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM ``process``, SIGKILL it after 5 s; no-op once it has exited."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _last_line(log: Path) -> str:
    """The last line a server wrote to ``log`` (why it could not start)."""
    lines = log.read_text(errors="replace").strip().splitlines()
    return lines[-1] if lines else "no output"


# --------------------------------------------------------------------------- OpenSSH


@dataclass
class SshServer:
    """A private ``sshd -D -e`` on 127.0.0.1 that only speaks SFTP, rooted at ``root``: relative
    paths of every client (rclone and ``sftp``) resolve inside ``root``."""

    port: int
    root: Path
    user: str
    key: Path  # the client's private key (its public half is the only authorized key)
    known_hosts: Path
    process: subprocess.Popen[bytes]
    log: Path

    def rclone_options(self) -> dict[str, Any]:
        """``[custom] rclone_options`` for an rclone ``sftp`` remote on this server."""
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "user": self.user,
            "key_file": str(self.key),
            "known_hosts_file": str(self.known_hosts),
            "shell_type": "none",
        }

    def sftp_argv(self, batch: Path, limit_kbit: int | None = None) -> list[str]:
        """The OpenSSH ``sftp`` client running ``batch`` against this server, optionally
        throttled to ``limit_kbit`` Kbit/s (``-l``); no user ssh config is read."""
        sftp = shutil.which("sftp")
        if sftp is None:
            raise ServerUnavailable(f"openssh-client (sftp) not installed: {APT_SSH}")
        argv = [sftp, "-F", "/dev/null", "-i", str(self.key), "-P", str(self.port)]
        argv += ["-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes"]
        argv += ["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-b", str(batch)]
        if limit_kbit:
            argv += ["-l", str(limit_kbit)]
        return [*argv, f"{self.user}@127.0.0.1"]

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        _terminate(self.process)


def _keygen(path: Path, comment: str) -> None:
    keygen = shutil.which("ssh-keygen")
    if keygen is None:
        raise ServerUnavailable(f"openssh-client (ssh-keygen) not installed: {APT_SSH}")
    done = subprocess.run(
        [keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode:
        raise ServerUnavailable(f"ssh-keygen failed: {done.stderr.strip()}")


def _privsep_dir() -> None:
    """sshd started by root needs its privilege separation folder (the Debian package's
    tmpfiles rule creates it at boot; a container may not have it)."""
    if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
        try:
            Path("/run/sshd").mkdir(mode=0o755, parents=True)
        except OSError as exc:
            reason = f"sshd needs /run/sshd and it cannot be created: {exc}"
            raise ServerUnavailable(reason) from None


def _sshd_config(base: Path, root: Path, port: int, user: str) -> Path:
    sftp = f"internal-sftp -d {root}"
    lines = [
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {base / 'host_ed25519'}",
        f"PidFile {base / 'sshd.pid'}",
        f"AuthorizedKeysFile {base / 'authorized_keys'}",
        "AuthenticationMethods publickey",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        f"AllowUsers {user}",
        "StrictModes no",
        "UsePAM no",
        "X11Forwarding no",
        "AllowTcpForwarding no",
        f"Subsystem sftp {sftp}",
        f"ForceCommand {sftp}",
    ]
    config = base / "sshd_config"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def start_sshd(base: Path, root: Path) -> SshServer:
    """Start a private OpenSSH server on a free 127.0.0.1 port: host key, client key and
    authorized_keys generated into ``base``, the current user let in by key only, SFTP only,
    rooted at ``root``. Returns once it accepts connections."""
    sshd = shutil.which("sshd", path=SBIN_PATH)
    if sshd is None:
        raise ServerUnavailable(f"openssh-server not installed: {APT_SSH}")
    base.mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    _privsep_dir()
    _keygen(base / "host_ed25519", "test-host")
    _keygen(base / "client_ed25519", "test-client")
    shutil.copyfile(base / "client_ed25519.pub", base / "authorized_keys")
    user = pwd.getpwuid(os.getuid()).pw_name
    port = free_port()
    host_key = (base / "host_ed25519.pub").read_text().split()[:2]
    known = base / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {' '.join(host_key)}\n", encoding="utf-8")
    config = _sshd_config(base, root, port, user)
    log = base / "sshd.log"
    with log.open("wb") as fh:  # sshd needs its absolute path to re-exec itself
        proc = subprocess.Popen(
            [str(Path(sshd).resolve()), "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    server = SshServer(port, root, user, base / "client_ed25519", known, proc, log)
    if not _wait_port(port, lambda: proc.poll() is None):
        server.stop()
        raise ServerUnavailable(f"sshd cannot start here: {_last_line(log)}")
    return server


# --------------------------------------------------------------------------- WebDAV


@dataclass
class DavServer:
    """A ``wsgidav`` WebDAV server on ``cheroot`` (in a thread), serving ``root`` with basic
    auth (:data:`DAV_USER`/:data:`DAV_PASS`)."""

    port: int
    root: Path
    server: Any
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rclone_options(self) -> dict[str, Any]:
        """``[custom] rclone_options`` for an rclone ``webdav`` remote on this server."""
        return {"url": self.url, "vendor": "other", "user": DAV_USER, "pass": DAV_PASS}

    def stop(self) -> None:
        """Stop serving and join the thread."""
        self.server.stop()
        self.thread.join(10)


def start_wsgidav(root: Path) -> DavServer:
    """Serve ``root`` with wsgidav + cheroot on a free 127.0.0.1 port (basic auth only)."""
    try:
        from cheroot import wsgi
        from wsgidav.wsgidav_app import WsgiDAVApp
    except ImportError:
        raise ServerUnavailable(f"wsgidav/cheroot not installed: {PIP_TEST}") from None
    root.mkdir(parents=True, exist_ok=True)
    app = WsgiDAVApp(
        {
            "provider_mapping": {"/": str(root)},
            "simple_dc": {"user_mapping": {"*": {DAV_USER: {"password": DAV_PASS}}}},
            "http_authenticator": {
                "accept_basic": True,
                "accept_digest": False,
                "default_to_digest": False,
            },
            "verbose": 1,
            "logging": {"enable": False},
        }
    )
    server = wsgi.Server(("127.0.0.1", 0), app)
    server.prepare()
    thread = threading.Thread(target=server.serve, name="wsgidav", daemon=True)
    thread.start()
    dav = DavServer(int(server.bind_addr[1]), root, server, thread)
    if not _wait_port(dav.port, thread.is_alive):
        dav.stop()
        raise ServerUnavailable("wsgidav did not start")
    return dav


# --------------------------------------------------------------------------- FTP


@dataclass
class FtpServer:
    """A ``pyftpdlib`` FTP server (in a thread) serving ``root`` to :data:`FTP_USER`."""

    port: int
    root: Path
    thread: threading.Thread
    stopping: threading.Event

    def rclone_options(self) -> dict[str, Any]:
        """``[custom] rclone_options`` for an rclone ``ftp`` remote on this server."""
        return {"host": "127.0.0.1", "port": self.port, "user": FTP_USER, "pass": FTP_PASS}

    def stop(self) -> None:
        """Stop serving (the serving thread closes every socket) and join the thread."""
        self.stopping.set()
        self.thread.join(10)


def _serve_ftp(server: Any, stopping: threading.Event) -> None:
    """Run pyftpdlib's loop one step at a time until ``stopping``; then close its sockets from
    this thread (closing them from another races the loop)."""
    try:
        while not stopping.is_set():
            server.ioloop.loop(timeout=0.1, blocking=False)
    finally:
        server.close_all()


def start_ftp(root: Path, perm: str = "elradfmwMT") -> FtpServer:
    """Serve ``root`` with pyftpdlib on a free 127.0.0.1 port (passive ports on loopback);
    ``perm``: pyftpdlib's permissions of the user (``"elr"``: read-only)."""
    try:
        with warnings.catch_warnings():  # pyftpdlib still imports asyncore/asynchat
            warnings.simplefilter("ignore", DeprecationWarning)
            from pyftpdlib.authorizers import DummyAuthorizer
            from pyftpdlib.handlers import FTPHandler
            from pyftpdlib.servers import FTPServer
    except ImportError:
        raise ServerUnavailable(f"pyftpdlib not installed: {PIP_TEST}") from None
    root.mkdir(parents=True, exist_ok=True)
    quiet = logging.getLogger("pyftpdlib")  # with a handler of its own, it configures none
    if not quiet.handlers:
        quiet.addHandler(logging.NullHandler())
    quiet.setLevel(logging.WARNING)
    quiet.propagate = False
    authorizer = DummyAuthorizer()
    authorizer.add_user(FTP_USER, FTP_PASS, str(root), perm=perm)
    # auth_failed_timeout: pyftpdlib waits 3 s before answering a wrong password with 530.
    attrs = {"authorizer": authorizer, "banner": "test", "auth_failed_timeout": 0.1}
    handler = type("Handler", (FTPHandler,), attrs)
    handler.masquerade_address = "127.0.0.1"
    server = FTPServer(("127.0.0.1", 0), handler)
    port = int(server.socket.getsockname()[1])
    stopping = threading.Event()
    thread = threading.Thread(target=_serve_ftp, args=(server, stopping), name="ftpd", daemon=True)
    thread.start()
    ftp = FtpServer(port, root, thread, stopping)
    if not _wait_port(port, thread.is_alive):
        ftp.stop()
        raise ServerUnavailable("pyftpdlib did not start")
    return ftp


# --------------------------------------------------------------------------- S3 (moto)


#: ``python -c`` program that runs moto's server after asking Linux to SIGTERM it when the test
#: process dies (``PR_SET_PDEATHSIG``), so a killed worker leaves no server behind.
_MOTO_MAIN = (
    "import ctypes, runpy, signal, sys; ctypes.CDLL(None).prctl(1, signal.SIGTERM); "
    "sys.argv[0] = 'moto_server'; runpy.run_module('moto.server', run_name='__main__')"
)


@dataclass
class MotoServer:
    """moto's S3 server (``python -m moto.server``, a subprocess) on 127.0.0.1; every key pair
    is accepted, these tests use :data:`MOTO_KEY`/:data:`MOTO_SECRET`."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path
    key: str = MOTO_KEY
    secret: str = MOTO_SECRET

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        """A boto3 S3 client of this server (a second client, as another uploader would be)."""
        import boto3  # moto[server] brings it; imported here so that test collection stays fast

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name="us-east-1",
        )

    def make_bucket(self, name: str) -> str:
        """Create bucket ``name`` (3-63 characters: lower case, digits, ``-``); returns it."""
        self.client().create_bucket(Bucket=name)
        return name

    def s3_options(self, bucket: str) -> dict[str, Any]:
        """The ``[s3]`` table of a workspace-sync config for ``bucket`` on this server."""
        keys = {"access_key_id": self.key, "secret_access_key": self.secret}
        return {"endpoint": self.endpoint, "bucket": bucket, "provider": "Other", **keys}

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        _terminate(self.process)


def start_moto(scratch: Path) -> MotoServer:
    """Start moto's S3 server on a free 127.0.0.1 port (its log in ``scratch``); returns once it
    accepts connections (~1-3 s: it imports every moto service)."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        raise ServerUnavailable(f"moto[server] not installed: {PIP_TEST}")
    scratch.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = scratch / "moto.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-c", _MOTO_MAIN, "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    server = MotoServer(port, proc, log)
    if not _wait_port(port, lambda: proc.poll() is None, timeout=30):
        server.stop()
        raise ServerUnavailable(f"moto's S3 server cannot start here: {_last_line(log)}")
    return server
