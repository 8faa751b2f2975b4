"""The `driftbox` command: accounts, linking a folder, syncing it, and looking at history.

Every failure is one line on stderr and a non-zero exit (2: usage, 3: refused as unsafe, 1: the
rest), never a traceback; ``DRIFTBOX_DEBUG=1`` shows the traceback of an unexpected error.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from driftbox import errors
from driftbox.adapters.api import Api
from driftbox.adapters.home import Home, Settings
from driftbox.core import journal, listing, paths

if TYPE_CHECKING:
    from driftbox.synchronizer import Synchronizer

DEFAULT_SERVER = "http://127.0.0.1:8000"
STATUS_LINES = 20  # pending changes `status` lists before "and N more"
_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass
class Context:
    home: Home
    settings: Settings
    server: str

    def api(self, *, logged_in: bool = True) -> Api:
        token = self.home.load_token()
        if logged_in and token is None:
            raise errors.UsageError("not logged in: run `driftbox login EMAIL --device NAME` first")
        return Api(self.server, token)

    def linked(self) -> tuple[Path, str]:
        if not self.settings.linked_folder or not self.settings.namespace_id:
            raise errors.UsageError("no folder is linked: run `driftbox link DIR` first")
        return Path(self.settings.linked_folder), self.settings.namespace_id

    def synchronizer(self, *, look_only: bool = False) -> Synchronizer:
        from driftbox.synchronizer import Synchronizer

        root, namespace_id = self.linked()
        device_name = self.settings.device_name or "device"
        api = self.api()
        return Synchronizer.open(api, self.home, root, namespace_id, device_name, look_only=look_only)

    def save(self, **changes: Any) -> None:
        self.settings = replace(self.settings, **changes)
        self.home.save_settings(self.settings)


pass_context = click.make_pass_decorator(Context)


def _password(value: str | None) -> str:
    return value or os.environ.get("DRIFTBOX_PASSWORD") or click.prompt("Password", hide_input=True)


@click.group()
@click.option("--server", help=f"the Driftbox server (else DRIFTBOX_SERVER, the saved one, {DEFAULT_SERVER})")
@click.option("--home", "home_dir", help="where the token, settings and index live (else DRIFTBOX_HOME)")
@click.version_option(package_name="driftbox-client")
@click.pass_context
def cli(ctx: click.Context, server: str | None, home_dir: str | None) -> None:
    """Keep a folder in sync with Driftbox on every device."""
    home = Home.resolve(home_dir, os.environ)
    settings = home.load_settings()
    chosen = server or os.environ.get("DRIFTBOX_SERVER") or settings.server or DEFAULT_SERVER
    ctx.obj = Context(home, settings, chosen.rstrip("/"))


@cli.command()
@click.argument("email")
@click.option("--password", help="else DRIFTBOX_PASSWORD, else a prompt")
@pass_context
def signup(ctx: Context, email: str, password: str | None) -> None:
    """Create an account."""
    ctx.api(logged_in=False).signup(email, _password(password))
    click.echo(f"Signed up {email}. Now: driftbox login {email} --device NAME")


@cli.command()
@click.argument("email")
@click.option("--device", "device_name", required=True, help="a name for this device, e.g. laptop")
@click.option("--password", help="else DRIFTBOX_PASSWORD, else a prompt")
@pass_context
def login(ctx: Context, email: str, device_name: str, password: str | None) -> None:
    """Log this device in (one token per device)."""
    answer = ctx.api(logged_in=False).login(email, _password(password), device_name)
    ctx.home.save_token(answer["token"])
    same_account = ctx.settings.user_id == answer["user_id"]
    ctx.save(
        server=ctx.server,
        email=email,
        user_id=answer["user_id"],
        device_id=answer["device_id"],
        device_name=device_name,
        namespace_id=answer["namespace_id"],
        linked_folder=ctx.settings.linked_folder if same_account else None,
    )
    click.echo(f"Logged in as {email} on {device_name}.")


@cli.command()
@pass_context
def logout(ctx: Context) -> None:
    """Log this device out: its token stops working everywhere."""
    with contextlib.suppress(errors.Unauthorized):  # already revoked: only forgetting it is left
        ctx.api().logout()
    ctx.home.forget_token()
    click.echo("Logged out.")


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@pass_context
def link(ctx: Context, folder: Path) -> None:
    """Make FOLDER the folder this device syncs."""
    ctx.api()  # logged in?
    from driftbox.synchronizer import link_folder

    resolved = link_folder(folder, ctx.home)
    ctx.save(linked_folder=str(resolved))
    click.echo(f"Linked {resolved}. Run `driftbox sync` to sync it.")


@cli.command()
@click.option("--once", is_flag=True, help="one full pass, then exit (0 when everything is in sync)")
@click.option(
    "--watch",
    type=click.Choice(["auto", "polling"]),
    default="auto",
    envvar="DRIFTBOX_WATCH",
    show_envvar=True,
    show_default=True,
    help="how to see local changes: the system's file events, falling back to polling where they "
    "cannot be used (auto), or polling only (for a folder on a network file system)",
)
@click.option(
    "--confirm-deletes",
    is_flag=True,
    help="with --once: make the deletes the safety check held back (a folder emptied on purpose); "
    "the server keeps their history",
)
@pass_context
def sync(ctx: Context, once: bool, watch: str, confirm_deletes: bool) -> None:
    """Sync the linked folder: until stopped, or --once."""
    if confirm_deletes and not once:
        raise errors.UsageError("--confirm-deletes goes with --once: it confirms one pass's deletes")
    with ctx.synchronizer() as sync:
        if once:
            report = sync.once(confirm_deletes=confirm_deletes)
            click.echo(report.summary())
            if not report.ok:
                failed = len(report.problems)
                raise errors.DriftboxError(f"{failed} item(s) not synced; see `driftbox status`")
        else:
            sync.forever(watch="polling" if watch == "polling" else "auto")


@cli.command()
@click.option("--all", "show_all", is_flag=True, help="list every pending change (else the first 20)")
@pass_context
def status(ctx: Context, show_all: bool) -> None:
    """In sync or not: pending uploads and downloads, what could not be synced, the last sync."""
    with ctx.synchronizer(look_only=True) as sync:  # beside a running sync too
        click.echo(sync.status().describe(limit=None if show_all else STATUS_LINES))


def _driftbox_path(ctx: Context, given: str) -> str:
    """A Driftbox path from a Driftbox path or a local path inside the linked folder."""
    folder = Path(ctx.settings.linked_folder) if ctx.settings.linked_folder else None
    local = Path(given).expanduser()
    if folder is not None and (not given.startswith("/") or local.exists()):
        absolute = local if local.is_absolute() else Path.cwd() / local
        try:
            relative = absolute.resolve(strict=False).relative_to(folder.resolve())
        except ValueError:
            if not given.startswith("/"):
                raise errors.UsageError(f"{given} is not inside the linked folder {folder}") from None
        else:
            return paths.normalize("/" + relative.as_posix()) if relative.parts else "/"
    try:
        return paths.normalize(given) if given != "/" else "/"
    except paths.InvalidPath as exc:
        raise errors.UsageError(str(exc)) from exc


@cli.command(name="ls")
@click.argument("path", default="/")
@pass_context
def list_folder(ctx: Context, path: str) -> None:
    """List a folder on the server (default: the root)."""
    namespace_id = ctx.settings.namespace_id or ctx.linked()[1]
    folder = _driftbox_path(ctx, path)
    api = ctx.api()
    unusable = 0
    try:
        for page in api.folder_pages(namespace_id, folder):
            entries = page.get("entries") if isinstance(page, dict) else None
            for entry in entries if isinstance(entries, list) else []:
                try:
                    child = listing.child_of(entry, paths.key(folder))
                except journal.BadEntry as bad:
                    unusable += 1
                    click.echo(f"driftbox: not shown: {bad}", err=True)
                    continue
                size = "folder" if child.kind == "folder" else f"{child.size_bytes:,}"
                click.echo(f"{size:>14}  {child.name}{'/' if child.kind == 'folder' else ''}")
    except errors.ServerError as exc:
        if exc.code == "not_found" and "path" in exc.details:
            raise errors.DriftboxError(f"{folder}: nothing there on the server") from exc
        if exc.code == "invalid_request" and exc.details.get("kind") == "file":
            _list_file(api, namespace_id, folder)
            return
        raise
    if unusable:
        raise errors.DriftboxError(f"{unusable} entr{'y' if unusable == 1 else 'ies'} of {folder} not shown")


def _list_file(api: Api, namespace_id: str, path: str) -> None:
    """`ls` of a file: its size and path, as the newest revision gives them."""
    answer = api.revisions(namespace_id, path, limit=1)
    newest = (answer.get("revisions") or [None])[0] if isinstance(answer, dict) else None
    size = newest.get("size") if isinstance(newest, dict) else None
    stored = answer.get("path") if isinstance(answer, dict) else None
    try:
        shown = paths.normalize(stored) if isinstance(stored, str) else None
    except paths.InvalidPath:
        shown = None
    if type(size) is not int or size < 0 or shown is None:
        raise errors.DriftboxError(f"{path}: the server sent no usable size or path for this file")
    click.echo(f"{size:>14,}  {shown}")


@cli.command()
@click.argument("path")
@pass_context
def history(ctx: Context, path: str) -> None:
    """The revisions of a file, newest first."""
    namespace_id = ctx.settings.namespace_id or ctx.linked()[1]
    answer = ctx.api().revisions(namespace_id, _driftbox_path(ctx, path))
    for rev in answer["revisions"]:
        when = datetime.fromtimestamp(rev["created_at_ms"] / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        what = "deleted" if rev["deleted"] else f"{rev['size']:,} bytes"
        short_hash = (rev["content_hash"] or "")[:12]
        click.echo(f"rev {rev['rev']:>4}  {when} UTC  {what:>16}  {short_hash:12}  {rev['path']}")


@cli.command()
@click.argument("path")
@click.option("--rev", type=int, required=True, help="the revision to bring back (see `driftbox history`)")
@pass_context
def restore(ctx: Context, path: str, rev: int) -> None:
    """Make an old revision of a file current again (as a new revision)."""
    namespace_id = ctx.settings.namespace_id or ctx.linked()[1]
    target = _driftbox_path(ctx, path)
    try:
        answer = ctx.api().restore(namespace_id, target, rev)
    except errors.ServerError as exc:
        if exc.code == "not_found" and "rev" in exc.details:
            raise errors.DriftboxError(
                f"{target} has no rev {rev}: `driftbox history {target}` lists its revisions"
            ) from exc
        raise
    click.echo(f"Restored {answer['path']} from rev {rev} as rev {answer['rev']}.")


def _one_line(main: _F) -> _F:
    @wraps(main)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return main(*args, **kwargs)
        except errors.DriftboxError as exc:
            click.echo(f"driftbox: {exc}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:  # bad arguments: click's own one-line message
            exc.show()
            sys.exit(exc.exit_code)
        except (KeyboardInterrupt, click.exceptions.Abort):
            click.echo("driftbox: stopped", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug: one line, and the traceback on request
            if os.environ.get("DRIFTBOX_DEBUG"):
                traceback.print_exc()
            click.echo(f"driftbox: unexpected error: {exc!r} (DRIFTBOX_DEBUG=1 shows more)", err=True)
            sys.exit(1)

    return run  # type: ignore[return-value]


@_one_line
def main() -> None:
    cli.main(standalone_mode=False)
