"""What the sandbox tests need around them: a real system user, a Python that
user can run, the kernel as a real subprocess, and a watcher of its plugins.

Why a separate interpreter sometimes: the plugin runs the kernel's own
interpreter (``{python}``), so that interpreter, its virtualenv and the
certkernel checkout must be readable by the plugin's user. A development
virtualenv whose Python lives under ``/root`` (0700) is not; the kernel says
so (tested), and for the other tests we build a small virtualenv in a
world-readable folder from the system Python of the same version that adds
the development virtualenv's site-packages. In CI the virtualenv
(/opt/certkernel-venv) is world-readable and is used as it is.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
USER = "certkernel-test"


def ensure_user(name: str = USER) -> bool:
    """Create the system user if missing; True when we created it."""
    try:
        pwd.getpwnam(name)
        return False
    except KeyError:
        pass
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "--user-group", name], check=True, timeout=30)
    return True


def remove_user(name: str = USER) -> None:
    subprocess.run(["userdel", name], check=False, timeout=30)


def world_dir(parent: Path, name: str) -> Path:
    """A 0755 root-owned folder: the plugin's user may enter it, not change it."""
    path = parent / name
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path


def python_usable_by(python: str, user: str) -> bool:
    """Can ``user`` start ``python`` and import what the built-in plugins import?"""
    try:
        probe = subprocess.run(  # noqa: S603
            [python, "-c", "import certkernel.sdk, certkernel.plugins.webroot, msgpack, dns"],
            user=user, group=user, extra_groups=[], capture_output=True, timeout=60,
            env={"PATH": "/usr/bin:/bin"}, cwd="/",
        )
    except OSError:
        return False
    return probe.returncode == 0


def _system_python() -> str | None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"):
        if os.path.exists(candidate):
            return candidate
    return None


def build_shim_venv(base: Path, python: str | None = None) -> str:
    """A virtualenv at ``base/venv`` whose site-packages also holds ours (see module doc)."""
    interpreter = python or _system_python()
    if interpreter is None:
        raise RuntimeError("no system Python of this version to build a readable virtualenv")
    venv = base / "venv"
    subprocess.run([interpreter, "-m", "venv", "--without-pip", str(venv)],  # noqa: S603
                   check=True, timeout=120)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = venv / "lib" / version / "site-packages"
    ours = sysconfig.get_path("purelib")
    (site / "certkernel-dev.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    _copy_package(site)
    for path in [base, *venv.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        elif path.is_file():
            path.chmod(path.stat().st_mode | 0o444)
    return str(venv / "bin" / "python3")


def _copy_package(site: Path) -> None:
    """Put a copy of certkernel's code into ``site``, mapped as setup.py maps it.

    An editable install points into the checkout, and a checkout may sit
    under a folder the plugin's user cannot enter (CI clones anywhere); a
    copy in this world-readable virtualenv does not depend on that. It
    shadows the editable finder, which Python consults after site-packages.
    """
    import importlib.util

    # setup.py's ROOTS is the one place the folder -> import name layout is written.
    spec = importlib.util.spec_from_file_location("certkernel_setup", REPO / "setup.py")
    assert spec is not None and spec.loader is not None
    layout = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layout)
    mapping: dict[str, str] = dict(layout.ROOTS)
    skip = shutil.ignore_patterns("__pycache__", "node_modules", "*.pyc")
    for package, folder in sorted(mapping.items()):
        shutil.copytree(REPO / folder, site / package.replace(".", "/"),
                        dirs_exist_ok=True, ignore=skip)


def proc_status(pid: int) -> dict[str, str]:
    """/proc/<pid>/status as a dict ({} once the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    state = proc_status(pid).get("State", "")
    return bool(state) and not state.startswith("Z")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class Watcher:
    """Polls the kernel's children for a plugin matching ``marker`` and keeps its status."""

    kernel_pid: int
    marker: str
    found: dict[str, str] = field(default_factory=dict)
    pid: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Watcher:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        deadline = time.monotonic() + 120
        while not self._stop.is_set() and time.monotonic() < deadline and not self.found:
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                status = proc_status(int(entry))
                if status.get("PPid") == str(self.kernel_pid) and \
                        self.marker in cmdline(int(entry)):
                    self.pid = int(entry)
                    self.found = status
                    break
            time.sleep(0.005)

    def wait_found(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.found:
            time.sleep(0.01)
        return bool(self.found)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


@dataclass
class Kernel:
    """How to run ``certkernel`` as a subprocess with one interpreter and state folders."""

    python: str
    root: Path
    env: dict[str, str] = field(default_factory=dict)

    def dirs(self, name: str) -> list[str]:
        base = world_dir(self.root, name)
        return ["--config-dir", str(base / "config"), "--work-dir", str(base / "work"),
                "--logs-dir", str(base / "logs")]

    def argv(self, *args: str) -> list[str]:
        return [self.python, "-m", "certkernel", *args]

    def environment(self, **extra: str) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root),
               "LANG": "C.UTF-8", **self.env}
        env.update(extra)
        return env

    def run(self, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), capture_output=True, text=True,  # noqa: S603
                              timeout=timeout, env=self.environment(**extra), cwd=str(self.root))

    def start(self, *args: str, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE,  # noqa: S603
                                stderr=subprocess.PIPE, text=True,
                                env=self.environment(**extra), cwd=str(self.root))


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
