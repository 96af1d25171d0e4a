"""``import-openclaw``: the openclaw-workspace-sync plugin's settings into sync.toml."""

from __future__ import annotations

from pathlib import Path

import click

from watcher.cli.app import Options, cli, common_options
from watcher.cli.config_writes import write_plan
from watcher.config import MODES
from watcher.config.envrefs import unset_refs
from watcher.errors import UsageError
from watcher.log import setup_logging
from watcher.openclaw import convert, parse_json
from watcher.wizard import Plan


@cli.command(name="import-openclaw")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("sync.toml"),
    show_default=True,
    help="sync.toml to write.",
)
@click.option("--workspace", help="The workspace folder (default: from openclaw.json).")
@click.option("--mode", type=click.Choice(MODES), help="Override or supply the mode.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@common_options
@click.pass_context
def import_openclaw(
    ctx: click.Context,
    path: Path,
    output: Path,
    workspace: str | None,
    mode: str | None,
    force: bool,
) -> None:
    """Convert the openclaw-workspace-sync plugin settings in an openclaw.json into sync.toml
    (secrets into a 0600 secrets file beside it); reports every key it could not map."""
    setup_logging(ctx.ensure_object(Options).verbosity)
    output = output.expanduser().absolute()
    if output.exists() and not force:
        raise UsageError(f"{output} exists; pass --force to overwrite it")
    try:
        data = parse_json(path.read_text(encoding="utf-8"))
        result = convert(data, workspace=workspace, mode=mode, state_dir=_state_dir(path))
    except (ValueError, OSError) as exc:
        raise UsageError(f"{path}: cannot convert: {exc}") from None
    plan = Plan(result.values, result.tables, result.secrets)
    written = write_plan(plan, output, unset_ok=True)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    for name in unset_refs([result.values, result.tables, result.secrets]):
        click.echo(
            f"note: ${{{name}}} is not set now; it is kept as a reference in {output.name} "
            "(set it before workspace-sync runs)",
            err=True,
        )
    for item in result.unmapped:
        click.echo(f"not mapped: {item}", err=True)
    click.echo(f"wrote {output}")
    if written.secrets_path:
        click.echo(f"wrote {written.secrets_path} (secrets, mode 0600)")
    if written.kept:
        click.echo(f"kept from {written.cfg.secrets_file}: " + ", ".join(written.kept))


def _state_dir(path: Path) -> str:
    """OpenClaw's state folder: the one holding ``openclaw.json`` (``~/…`` when under home)."""
    folder = path.expanduser().resolve().parent
    try:
        rel = folder.relative_to(Path.home().resolve()).as_posix()
    except ValueError:
        return str(folder)
    return "~" if rel == "." else f"~/{rel}"
