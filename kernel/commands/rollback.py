"""``certkernel rollback --checkpoints N``: undo the last N configuration checkpoints.

The kernel itself keeps every checkpoint (installers only register files), so
rollback works without starting any plugin, even when the installer that made
the change is broken or gone.  Unfinished changes of a crashed run are undone
first.  When an installer is configured its ``restart`` should follow, so the
server serves the restored files: :func:`rollback` takes that as a callable.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from certkernel.checkpoints.reverter import Restored, Reverter
from certkernel.config import Config
from certkernel.display import Display
from certkernel.errors import ConfigurationError, Error, ReverterError
from certkernel.lineages.named_lineage import load_lineage, with_lineage_conf
from certkernel.lineages.storage import ConfigDirs, Lineage
from certkernel.runtime.deploy import changes_nothing
from certkernel.runtime.plugin_runtime import PluginLauncher


def _describe(result: Restored) -> list[str]:
    if result.kind == "finalized" and result.timestamp is not None:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(result.timestamp))
        head = f"- checkpoint {result.name} ({when})"
    elif result.kind == "temporary":
        head = "- temporary changes left by an interrupted run"
    else:
        head = "- unfinished changes left by an interrupted run"
    if result.title:
        head += f": {result.title}"
    lines = [head]
    lines += [f"    restored {path}" for path in result.restored]
    lines += [f"    removed  {path}" for path in result.removed]
    lines += [f"    NOT restored {why}" for why in result.refused]
    if not result.restored and not result.removed and not result.refused:
        lines.append("    (no files had changed)")
    return lines


def rollback(
    work_dir: str,
    count: int,
    restart: Callable[[], None] | None = None,
    notify: Callable[[str], None] | None = None,
    *,
    lock_timeout: float,
) -> list[Restored]:
    """Restore the newest ``count`` checkpoints under ``work_dir``, then ``restart``.

    ``notify`` receives the user-facing text (stdout when None).  ``restart``
    (the installer's reload) runs only when some file actually changed back.
    """
    say = notify if notify is not None else print
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ReverterError(f"--checkpoints must be 0 or more, not {count!r}")
    if count == 0:
        say("Nothing rolled back: --checkpoints 0 asks for no checkpoints.")
        return []
    with Reverter(work_dir, lock_timeout=lock_timeout) as reverter:
        available = sum(1 for info in reverter.view() if info.kind == "finalized")
        results = reverter.rollback(count)
    finalized = [r for r in results if r.kind == "finalized"]
    lines: list[str] = []
    if available == 0:
        lines.append(
            "certkernel has not modified your configuration, so there is no checkpoint to roll back."
        )
    elif available < count:
        lines.append(
            f"Only {available} checkpoint(s) exist; rolled back all of them instead of {count}."
        )
    if results:
        lines.append(f"Rolled back {len(finalized)} checkpoint(s) in {work_dir}:")
        for result in results:
            lines += _describe(result)
    say("\n".join(lines))
    if restart is not None and any(r.restored or r.removed for r in results):
        restart()
    return results


def _installer_config(config: Config) -> tuple[Config, str | None]:
    """The installer to restart after a rollback: -i/--nginx/--apache, else a renewal conf's.

    With --cert-name, that lineage's; otherwise the one installer every
    lineage that has one agrees on (several different ones: none, and the
    user is told to pass -i).
    """
    name = config.installer or config.configurator
    if name:
        if config.certname:
            config = with_lineage_conf(config, load_lineage(config, config.certname))
        return config, name
    if config.certname:
        candidates = [load_lineage(config, config.certname)]
    else:
        renewal = ConfigDirs(config.config_dir).renewal
        files = sorted(f for f in os.listdir(renewal) if f.endswith(".conf")) \
            if os.path.isdir(renewal) else []
        candidates = []
        for file in files:
            try:
                candidates.append(Lineage.load(config.config_dir, file[:-5], repair=False))
            except Exception:  # noqa: BLE001 - a damaged conf must not stop a rollback
                continue
    found: dict[str, Config] = {}
    for lineage in candidates:
        inst = str(lineage.renewalparams.get("installer", "None") or "None")
        if not changes_nothing(config, inst):
            found.setdefault(inst, with_lineage_conf(config, lineage))
    if len(found) == 1:
        inst, inst_config = next(iter(found.items()))
        return inst_config, inst
    return config, None


def _recorded_installer(config: Config) -> tuple[Config, str] | None:
    """The installer recorded with the newest checkpoint this rollback undoes, and its options.

    Checkpoints record the installer that made them (``INSTALLER``), so the
    server is restarted with exactly the options it was changed with, even
    with no plugin flags and no lineage left to read them from.
    """
    infos = Reverter(config.work_dir, lock_timeout=config.lock_timeout).view()
    finalized = [info for info in infos if info.kind == "finalized"]
    undone = [info for info in infos if info.kind != "finalized"] + finalized[:config.checkpoints]
    for info in undone:
        record = info.installer
        if record is None or record["installer"] not in config.manifests:
            continue
        params = {key: value for key, value in record.items() if key != "installer"}
        return config.with_renewal_conf(params, f"checkpoint {info.path}"), record["installer"]
    return None


def run(config: Config) -> int:
    """Roll back ``config.checkpoints`` checkpoints of ``config.work_dir``, then reload the server.

    The installer to restart is the one given on the command line, else the
    one recorded with the checkpoints being undone, else the lineages' one.
    A failed restart is reported as such: the files are restored either way,
    and the message says so, so nobody runs rollback again (which would undo
    one more checkpoint).
    """
    if isinstance(config.checkpoints, int) and config.checkpoints < 0:
        # bad input, not a rollback failure: no "details in the log" suffix
        raise ConfigurationError(f"--checkpoints must be 0 or more, not {config.checkpoints!r}")
    display = Display.from_config(config)

    def notify(message: str) -> None:
        display.notification(message, wrap=False)

    recorded = None
    if not (config.installer or config.configurator) and config.checkpoints > 0:
        recorded = _recorded_installer(config)
    inst_config, inst = recorded if recorded is not None else _installer_config(config)
    failed: list[str] = []

    def restart() -> None:
        assert inst is not None
        try:
            with PluginLauncher(inst_config, display) as launcher:
                launcher.installer(inst).restart()
        except Error as exc:
            failed.append(str(exc))
            return
        notify(f"Restarted the {inst} server with the restored configuration.")

    results = rollback(config.work_dir, config.checkpoints,
                       restart=restart if inst else None, notify=notify,
                       lock_timeout=config.lock_timeout)
    if failed:
        notify(f"The files are restored (running rollback again would undo one more "
               f"checkpoint), but restarting {inst} failed: {failed[0]}. Reload the server "
               f"yourself.")
        return 1
    if inst is None and any(r.restored or r.removed for r in results):
        notify("No installer is known for these files: reload your server yourself, or pass "
               "--nginx, --apache or -i NAME to have certkernel do it.")
    return 0
