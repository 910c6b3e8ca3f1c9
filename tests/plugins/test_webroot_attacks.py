"""Attack 3 of issue 12: the web root's owner against webroot running as root.

Before the fix, ``.well-known`` or ``acme-challenge`` could be a link to any
directory (``O_NOFOLLOW`` guarded only the token file), the token was
chowned to the web root's owner, and cleanup kept a token whose bytes had
changed: a web server that rewrote it left a www-data-owned executable in,
say, ``/etc/cron.daily`` (token names are valid run-parts names).

Each test runs the real webroot plugin process through the plugin host as
root; the "victim" directory stands for ``/etc/cron.daily``. The web root's
owner is a real unprivileged system user where ownership matters.
"""

from __future__ import annotations

import functools
import http.server
import os
import pwd
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from certkernel import errors
from tests.infra import sandbox_env as se
from tests.infra.httpd import serving, static_site

from .certonly_run import assert_issued, certonly, explain
from .conftest import http01

Snapshot = list[tuple[str, int, int, bytes]]


def snapshot(top: Path) -> Snapshot:
    """Every entry under ``top`` (links not followed): path, mode, owner, content."""
    out: Snapshot = []
    for dirpath, dirnames, filenames in os.walk(top):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            st = path.lstat()
            data = path.read_bytes() if stat.S_ISREG(st.st_mode) else b""
            out.append((str(path.relative_to(top)), st.st_mode, st.st_uid, data))
    return sorted(out)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A root-owned directory outside the web root, like /etc/cron.daily."""
    path = tmp_path / "cron.daily"
    path.mkdir(mode=0o755)
    (path / "logrotate").write_text("#!/bin/sh\nexit 0\n")
    (path / "logrotate").chmod(0o755)
    return path


@pytest.fixture(scope="module")
def site_user() -> Iterator[pwd.struct_passwd]:
    """A real unprivileged user who owns the web root (www-data's role)."""
    if os.geteuid() != 0:
        pytest.fail("these attacks are run as root against another user and need root")
    created = se.ensure_user()
    yield pwd.getpwnam(se.USER)
    if created:
        se.remove_user()


def as_user(user: pwd.struct_passwd, script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a shell snippet as ``user`` (no groups, no capabilities)."""
    return subprocess.run(["/bin/sh", "-c", script], user=user.pw_uid, group=user.pw_gid,
                          extra_groups=[], cwd=cwd, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"}, timeout=30)


def test_well_known_as_a_link_out_of_the_web_root_is_refused(start, tmp_path, victim):
    root = tmp_path / "www"
    root.mkdir()
    (root / ".well-known").symlink_to(victim)
    before = snapshot(victim)
    auth = start("webroot", options={"path": [str(root)]})
    chall = http01("a.example", "runpartsname")
    with pytest.raises(errors.PluginError) as info:
        auth.perform([chall])
    assert (f"Refusing to use {root}/.well-known: it is a symbolic link, and links beneath "
            "the directory are never followed") in str(info.value)
    auth.cleanup([chall])
    assert snapshot(victim) == before, "nothing was created, changed or removed outside"
    assert os.listdir(root) == [".well-known"]


def test_acme_challenge_as_a_link_out_of_the_web_root_is_refused(start, tmp_path, victim):
    root = tmp_path / "www"
    (root / ".well-known").mkdir(parents=True)
    (root / ".well-known" / "acme-challenge").symlink_to(victim)
    before = snapshot(victim)
    auth = start("webroot", options={"path": [str(root)]})
    chall = http01("a.example", "runpartsname")
    with pytest.raises(errors.PluginError,
                       match=f"Refusing to use {root}/.well-known/acme-challenge: it is a symbolic link"):
        auth.perform([chall])
    auth.cleanup([chall])
    assert snapshot(victim) == before
    assert sorted(os.listdir(root / ".well-known")) == ["acme-challenge"]


def test_token_name_planted_as_a_link_is_replaced_not_followed(start, tmp_path, victim):
    """The token's own name as a link to a root file: the link is replaced, the target kept."""
    root = tmp_path / "www"
    (root / ".well-known" / "acme-challenge").mkdir(parents=True)
    chall = http01("a.example", "logrotate")
    (root / ".well-known" / "acme-challenge" / "logrotate").symlink_to(victim / "logrotate")
    before = snapshot(victim)
    auth = start("webroot", options={"path": [str(root)]})
    auth.perform([chall])
    token = root / ".well-known" / "acme-challenge" / "logrotate"
    assert not token.is_symlink() and token.read_text() == chall.validation
    auth.cleanup([chall])
    assert snapshot(victim) == before
    assert os.listdir(root / ".well-known" / "acme-challenge") == []


def test_link_swapped_in_after_perform_is_not_followed(start, tmp_path, victim):
    """The owner renames our .well-known away and puts a link in its place mid-run."""
    root = tmp_path / "www"
    root.mkdir()
    before = snapshot(victim)
    auth = start("webroot", options={"path": [str(root)]})
    first, second = http01("a.example", "tokA"), http01("b.example", "tokB")
    auth.perform([first])
    (root / ".well-known").rename(root / "moved")
    (root / ".well-known").symlink_to(victim)
    auth.perform([second])  # written where perform holds its directory open
    auth.cleanup([first, second])
    assert snapshot(victim) == before
    assert sorted(os.listdir(root)) == [".well-known", "moved"]
    assert list((root / "moved").rglob("tok*")) == [], "both tokens were removed"


def test_fresh_process_cleanup_does_not_follow_a_link_swapped_in(start, tmp_path, victim):
    """After a crash the kernel retries cleanup in a new process: it walks again, safely."""
    root = tmp_path / "www"
    root.mkdir()
    chall = http01("a.example", "logrotate")
    first = start("webroot", options={"path": [str(root)]}, state="webroot-state")
    first.perform([chall])
    first.process.kill()
    (root / ".well-known").rename(root / "moved")
    (root / ".well-known").symlink_to(victim)
    before = snapshot(victim)
    second = start("webroot", options={"path": [str(root)]}, state="webroot-state")
    second.cleanup([chall])
    assert snapshot(victim) == before, "the victim's logrotate was not removed"


def test_token_rewritten_between_perform_and_cleanup_is_removed(start, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    auth = start("webroot", options={"path": [str(root)]})
    chall = http01("a.example", "tok")
    auth.perform([chall])
    token = root / ".well-known" / "acme-challenge" / "tok"
    token.write_text("#!/bin/sh\nid\n")
    token.chmod(0o755)
    auth.cleanup([chall])
    assert os.listdir(root) == [], "no file and no directory left behind"


def test_web_server_user_reads_the_token_but_cannot_rewrite_it(start, tmp_path, site_user):
    """A web root owned by the site's user, webroot run as root: the token is readable
    (the server serves it) yet root-owned 0644, so the server cannot rewrite it in place
    or make it executable."""
    tmp_path.chmod(0o755)
    root = tmp_path / "www"
    root.mkdir(mode=0o755)
    os.chown(root, site_user.pw_uid, site_user.pw_gid)
    auth = start("webroot", options={"path": [str(root)]})
    chall = http01("a.example", "tok")
    auth.perform([chall])
    token = root / ".well-known" / "acme-challenge" / "tok"
    st = token.lstat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o644), "not handed to the site's user"
    served = as_user(site_user, "cat .well-known/acme-challenge/tok", root)
    assert (served.returncode, served.stdout) == (0, chall.validation)
    rewrite = as_user(site_user, "printf 'id' > .well-known/acme-challenge/tok; "
                      "chmod 755 .well-known/acme-challenge/tok", root)
    assert rewrite.returncode != 0 and "Permission denied" in rewrite.stderr
    assert token.read_text() == chall.validation
    auth.cleanup([chall])
    assert os.listdir(root) == []


def test_web_server_replacing_the_token_in_its_own_directory_leaves_nothing(start, tmp_path,
                                                                             site_user):
    """The site's user owns .well-known/acme-challenge and swaps our token for an
    executable of its own: cleanup removes the name anyway, nothing executable stays."""
    tmp_path.chmod(0o755)
    root = tmp_path / "www"
    (root / ".well-known" / "acme-challenge").mkdir(parents=True)
    for path in (root, root / ".well-known", root / ".well-known" / "acme-challenge"):
        path.chmod(0o755)
        os.chown(path, site_user.pw_uid, site_user.pw_gid)
    auth = start("webroot", options={"path": [str(root)]})
    chall = http01("a.example", "tok")
    auth.perform([chall])
    swap = as_user(site_user, "cd -P .well-known/acme-challenge && rm -f tok && "
                   "printf '#!/bin/sh\\nid\\n' > tok && chmod 755 tok", root)
    assert swap.returncode == 0, swap.stderr
    auth.cleanup([chall])
    assert os.listdir(root / ".well-known" / "acme-challenge") == []
    assert [p for p in root.rglob("*") if p.is_file()] == []


# -- the same attacks through the CLI, against Pebble -----------------------------


class _RewritingServer(http.server.SimpleHTTPRequestHandler):
    """A web server that answers a challenge, then swaps the file for an executable.

    The first answer is kept in memory and served again (the CA may fetch
    more than once), so validation passes while the file on disk is the
    server's own ``#!/bin/sh`` script, mode 0755.
    """

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        if not self.path.startswith("/.well-known/acme-challenge/"):
            super().do_GET()
            return
        token = Path(self.directory) / self.path.lstrip("/")
        answers: dict[str, bytes] = self.server.answers  # type: ignore[attr-defined]
        # Fetches may come in parallel (threads): the first one swaps the file.
        with self.server.swap_lock:  # type: ignore[attr-defined]
            if token.name not in answers:
                answers[token.name] = token.read_bytes()
                token.unlink()
                token.write_text("#!/bin/sh\nid > /tmp/owned\n")
                token.chmod(0o755)
            body = answers[token.name]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_cli_refuses_a_well_known_link_and_says_why(pebble, tmp_path, victim):
    before = snapshot(victim)
    with static_site(tmp_path / "www", pebble.http01_port) as root:
        (root / ".well-known").symlink_to(victim)
        result = certonly(pebble, tmp_path, "--webroot", "-w", str(root), "-d", "link.example")
    assert result.returncode == 1, explain(result)
    assert (f"Refusing to use {root}/.well-known: it is a symbolic link"
            in result.stderr.strip().splitlines()[-1]), explain(result)
    assert snapshot(victim) == before
    assert not (tmp_path / "config" / "live" / "link.example").exists()


def test_cli_removes_a_token_the_web_server_rewrote(pebble, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_RewritingServer, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", pebble.http01_port), handler)
    server.answers = {}  # type: ignore[attr-defined]
    server.swap_lock = threading.Lock()  # type: ignore[attr-defined]
    with serving(server):
        result = certonly(pebble, tmp_path, "--webroot", "-w", str(root), "-d", "rw.example")
    assert result.returncode == 0, explain(result)
    assert_issued(tmp_path, "rw.example", ["rw.example"])
    assert server.answers, "the web server did rewrite the token"  # type: ignore[attr-defined]
    assert os.listdir(root) == [], "no file, executable or not, was left in the web root"
