"""Attack 2 of issue 12: code planted by the sandbox user runs as root.

A plugin that runs as an unprivileged user owns its state folder, which is
also its working directory. ``python -m`` puts the working directory first
on ``sys.path``, so a compromised sandboxed plugin could drop
``certkernel/__init__.py`` there and wait for the next run of the same
plugin as root. The victim is root's code: the planted module must never
run, and the root run must still issue.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

from tests.infra.pebble import Pebble
from tests.infra.sandbox_env import Kernel, world_dir
from tests.infra.sandbox_run import common

PLANT = r'''
import os, sys
marker, folders = sys.argv[1], sys.argv[2:]
code = f"open({marker!r}, 'a').write(str(__import__('os').getuid()) + chr(10))\n"
for folder in folders:
    os.makedirs(os.path.join(folder, "certkernel"), exist_ok=True)
    with open(os.path.join(folder, "certkernel", "__init__.py"), "w") as fh:
        fh.write(code)
    for name in ("msgpack.py", "encodings.py", "sitecustomize.py"):
        with open(os.path.join(folder, name), "w") as fh:
            fh.write(code)
'''


def plant_as(python: str, user: str, marker: Path, folders: list[Path]) -> None:
    """Write the modules as ``user`` itself: only what that user may write gets planted."""
    done = subprocess.run([python, "-I", "-c", PLANT, str(marker),  # noqa: S603
                           *map(str, folders)],
                          user=user, group=user, extra_groups=[], cwd="/",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def standalone(kernel: Kernel, pebble: Pebble, dirs: list[str], name: str,
               user: str) -> subprocess.CompletedProcess[str]:
    return kernel.run("certonly", "--standalone", "--plugin-user", user,
                      "--http-01-port", str(pebble.http01_port),
                      "--http-01-address", "127.0.0.1", "-d", name, *dirs, *common(pebble))


def test_module_planted_by_the_sandbox_user_never_runs_as_root(
        kernel: Kernel, sandbox_user: str, pebble: Pebble) -> None:
    dirs = kernel.dirs("planted")
    plugins = Path(dirs[3]) / "plugins"
    marker = world_dir(kernel.root, "planted-marker") / "ran-as"
    uid = pwd.getpwnam(sandbox_user).pw_uid

    first = standalone(kernel, pebble, dirs, "planted-a.example.org", sandbox_user)
    assert first.returncode == 0, first.stderr
    # Everything under plugins/ the sandbox user owns: where it could plant.
    theirs = [p for p in plugins.iterdir() if p.is_dir() and p.stat().st_uid == uid]
    assert theirs, "the sandboxed run had no folder of its own"
    # Older certkernels handed plugins/standalone itself to the sandbox user;
    # a folder left that way must not be trusted by a root run either.
    legacy = plugins / "standalone"
    if not legacy.exists():
        legacy.mkdir(mode=0o700)
        os.chown(legacy, uid, uid)
        theirs.append(legacy)
    plant_as(kernel.python, sandbox_user, marker, theirs)
    assert (legacy / "certkernel" / "__init__.py").exists()

    second = standalone(kernel, pebble, dirs, "planted-b.example.org", "root")
    assert not marker.exists(), f"planted code ran as uid {marker.read_text()}"
    assert second.returncode == 0, second.stderr
    root_dir = plugins / "standalone"
    st = root_dir.stat()
    assert (st.st_uid, st.st_mode & 0o777) == (0, 0o700)
    assert not (root_dir / "certkernel").exists()
    assert "moved it to" in (Path(dirs[5]) / "letsencrypt.log").read_text()

    third = standalone(kernel, pebble, dirs, "planted-c.example.org", sandbox_user)
    assert third.returncode == 0, third.stderr
    assert not marker.exists()
