"""A plugin that tries to make the root kernel write, create or delete a file it
must not, through the checkpoint calls (issue 12, item 1). Run as an
unprivileged user; the test owns the victim files, the plugin only knows
their paths.

Option ``scenario`` picks the attack; ``root`` is a folder the plugin's user
owns (declared as its checkpoint root in one manifest, absent from the
other); ``victim`` is a root-owned file outside every root. Each kernel call's
outcome (``ok`` or ``<ErrorType>: <message>``) goes to ``report.json`` in the
state dir, then perform fails on purpose so the run ends (the test then
runs ``certkernel rollback`` as root).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from certkernel.sdk import Authenticator, Challenge, PluginError, serve


class Attacker(Authenticator):
    name = "ckattack"
    version = "0.1.0"

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def _try(self, report: dict[str, str], step: str, call: Callable[[], None]) -> None:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - every outcome is recorded
            report[step] = f"{type(exc).__name__}: {exc}"
        else:
            report[step] = "ok"

    def perform(self, challenges: list[Challenge]) -> None:
        scenario = str(self.options.get("scenario"))
        root = str(self.options.get("root") or "")
        victim = str(self.options.get("victim") or "")
        report: dict[str, str] = {}
        getattr(self, f"_{scenario}")(report, root, victim)
        with open(os.path.join(self.state_dir, "report.json"), "w", encoding="utf-8") as fh:
            json.dump(report, fh)
        raise PluginError(f"ckattack: {scenario} finished")

    # (a) the outside path, directly and through a symlinked parent, plus one
    # legitimate change so the later rollback has something real to restore.
    def _outside(self, report: dict[str, str], root: str, victim: str) -> None:
        k = self.kernel
        mine = os.path.join(root, "mine.conf")
        with open(mine, "w") as fh:
            fh.write("mine before\n")
        self._try(report, "add_mine", lambda: k.checkpoint_add([mine]))
        with open(mine, "w") as fh:
            fh.write("mine after\n")
        self._try(report, "register_new_victim", lambda: k.checkpoint_register_new([victim]))
        self._try(report, "add_victim", lambda: k.checkpoint_add([victim]))
        os.symlink(os.path.dirname(victim), os.path.join(root, "out"))
        via = os.path.join(root, "out", os.path.basename(victim))
        self._try(report, "register_new_via_link", lambda: k.checkpoint_register_new([via]))
        self._try(report, "add_via_link", lambda: k.checkpoint_add([via]))

    # (b) checkpoint a file of its own, swap it for a symlink to the victim,
    # ask for the restore: temporary (revert now) and permanent (rollback later).
    def _swap(self, report: dict[str, str], root: str, victim: str) -> None:
        k = self.kernel
        temp = os.path.join(root, "temp.conf")
        perm = os.path.join(root, "perm.conf")
        for path in (temp, perm):
            with open(path, "w") as fh:
                fh.write(f"plugin bytes for {os.path.basename(path)}\n")
            os.chmod(path, 0o666)
        self._try(report, "add_temp", lambda: k.checkpoint_add([temp], temporary=True))
        self._try(report, "add_perm", lambda: k.checkpoint_add([perm]))
        for path in (temp, perm):
            os.unlink(path)
            os.symlink(victim, path)
        self._try(report, "revert_temporary", k.checkpoint_revert_temporary)

    # (c) a symlinked parent directory: checkpoint dir/<victim's name>, then
    # make dir a symlink to the victim's folder; also a parent that vanished.
    def _parent(self, report: dict[str, str], root: str, victim: str) -> None:
        k = self.kernel
        folder = os.path.join(root, "dir")
        gone = os.path.join(root, "gone")
        os.mkdir(folder)
        os.mkdir(gone)
        target = os.path.join(folder, os.path.basename(victim))
        lost = os.path.join(gone, "lost.conf")
        for path in (target, lost):
            with open(path, "w") as fh:
                fh.write("plugin bytes\n")
        self._try(report, "add", lambda: k.checkpoint_add([target, lost], temporary=True))
        os.rename(folder, os.path.join(root, "dir.real"))
        os.symlink(os.path.dirname(victim), folder)
        os.unlink(lost)
        os.rmdir(gone)
        self._try(report, "revert_temporary", k.checkpoint_revert_temporary)

    # (e) a root-owned file in a root-owned folder inside its root, which this
    # user cannot delete itself: registered as "new", a rollback would delete
    # it as root. Also a file of its own that exists: new means not there yet.
    def _existing(self, report: dict[str, str], root: str, victim: str) -> None:
        k = self.kernel
        locked = os.path.join(root, "locked", "keep.conf")
        self._try(report, "unlink_itself", lambda: os.unlink(locked))
        self._try(report, "register_new_locked", lambda: k.checkpoint_register_new([locked]))
        mine = os.path.join(root, "mine.conf")
        with open(mine, "w") as fh:
            fh.write("mine\n")
        self._try(report, "register_new_mine", lambda: k.checkpoint_register_new([mine]))
        fresh = os.path.join(root, "fresh.conf")
        self._try(report, "register_new_fresh", lambda: k.checkpoint_register_new([fresh]))
        with open(fresh, "w") as fh:
            fh.write("made by the plugin\n")

    # (d) a manifest that declares no roots: every checkpoint call.
    def _rootless(self, report: dict[str, str], root: str, victim: str) -> None:
        k = self.kernel
        self._try(report, "add", lambda: k.checkpoint_add([victim]))
        self._try(report, "register_new", lambda: k.checkpoint_register_new([victim]))
        self._try(report, "finalize", lambda: k.checkpoint_finalize("x"))
        self._try(report, "revert_temporary", k.checkpoint_revert_temporary)
        self._try(report, "rollback", lambda: k.checkpoint_rollback(1))

    def cleanup(self, challenges: list[Challenge]) -> None:
        pass


if __name__ == "__main__":
    serve(Attacker)
