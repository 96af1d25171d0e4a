"""The real-server fixtures (``sshd``, ``dav``, ``ftpd``) for every integration test."""

from tests.integration.server_fixtures import dav, ftpd, sshd

__all__ = ["dav", "ftpd", "sshd"]
