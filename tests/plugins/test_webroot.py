"""The webroot plugin as a process, writing into real directories."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from pathlib import Path

import pytest

from certkernel import errors
from certkernel.sdk.testing import ScriptedDisplay

from .conftest import dns01, http01, manifest


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def acme_dir(root: Path) -> Path:
    return root / ".well-known" / "acme-challenge"


def test_manifest_options_match_certbot_flags():
    m = manifest("webroot")
    assert m.description == "Place files in webroot directory"
    assert m.challenges == ("http-01",)
    path, wmap = m.option("path"), m.option("map")
    assert path is not None and (path.type, path.short, path.flag) == ("list", "-w", "--webroot-path")
    assert wmap is not None and (wmap.type, wmap.flag) == ("map", "--webroot-map")


def test_creates_readable_dirs_and_files_and_cleans_only_its_own(start, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    old = os.umask(0o077)  # a strict umask must not make the files unreadable to nginx
    try:
        auth = start("webroot", options={"path": [str(root)]})
    finally:
        os.umask(old)
    auth.prepare()
    assert auth.get_chall_pref("a.example") == ["http-01"]
    a, b = http01("a.example", "tokA"), http01("b.example", "tokB")
    auth.perform([a, b])
    assert mode(root / ".well-known") == 0o755
    assert mode(acme_dir(root)) == 0o755
    for chall in (a, b):
        file = acme_dir(root) / chall.token
        assert file.read_text() == chall.validation
        assert mode(file) == 0o644
    auth.cleanup([a])
    assert not (acme_dir(root) / "tokA").exists()
    assert (acme_dir(root) / "tokB").exists()
    auth.cleanup([b])
    assert sorted(os.listdir(root)) == [], "every file and directory it created is gone"
    assert root.is_dir()


@pytest.mark.parametrize("existing", [".well-known", ".well-known/acme-challenge"])
def test_pre_existing_directories_are_kept(start, tmp_path, existing):
    root = tmp_path / "www"
    (root / existing).mkdir(parents=True)
    (root / ".well-known" / "security.txt").write_text("Contact: a@example.org\n")
    os.chmod(root / ".well-known", 0o750)
    auth = start("webroot", options={"path": [str(root)]})
    chall = http01("a.example", "tok")
    auth.perform([chall])
    assert (acme_dir(root) / "tok").read_text() == chall.validation
    auth.cleanup([chall])
    assert not (acme_dir(root) / "tok").exists()
    assert (root / ".well-known" / "security.txt").exists()
    assert mode(root / ".well-known") == 0o750, "a directory we did not create is not touched"
    assert acme_dir(root).is_dir() == (existing == ".well-known/acme-challenge")


def test_created_dir_kept_when_someone_else_added_a_file(start, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    auth = start("webroot", options={"path": [str(root)]})
    chall = http01("a.example", "tok")
    auth.perform([chall])
    (acme_dir(root) / "other-client-token").write_text("x")
    auth.cleanup([chall])
    assert sorted(os.listdir(acme_dir(root))) == ["other-client-token"]


def test_map_wins_and_unmapped_names_use_the_last_path(start, tmp_path):
    one, two, last = (tmp_path / n for n in ("one", "two", "last"))
    for d in (one, two, last):
        d.mkdir()
    auth = start(
        "webroot",
        options={"path": [str(two), str(last)], "map": {"a.example": str(one), "b.example": str(two)}},
    )
    challs = [http01("a.example", "tA"), http01("B.example", "tB"), http01("c.example", "tC")]
    auth.perform(challs)
    assert (acme_dir(one) / "tA").exists()
    assert (acme_dir(two) / "tB").exists(), "map lookups ignore case"
    assert (acme_dir(last) / "tC").exists()
    assert not (acme_dir(last) / "tA").exists()
    auth.cleanup(challs)
    assert [os.listdir(d) for d in (one, two, last)] == [[], [], []]


def test_the_challenge_value_wins_over_the_options_of_another_lineage(start, tmp_path):
    # One process serves several lineages (PROTOCOL.md section 8): its options
    # are the first lineage's, each challenge carries its own lineage's root.
    first, own = tmp_path / "first", tmp_path / "own"
    for d in (first, own):
        d.mkdir()
    auth = start("webroot", options={"path": [str(first)], "map": {"a.example": str(first)}})
    mine = http01("a.example", "tOwn", per_domain={"map": str(own)})
    auth.perform([mine])
    assert (acme_dir(own) / "tOwn").read_text() == mine.validation
    assert not acme_dir(first).exists()
    auth.cleanup([mine])
    assert [os.listdir(d) for d in (first, own)] == [[], []]


def test_a_challenge_without_a_value_is_not_given_another_lineages_root(start, tmp_path):
    # The kernel sent the field without "map": this lineage gave no web root for
    # the name, so the plugin asks (here: cannot), never using its options' root.
    first = tmp_path / "first"
    first.mkdir()
    auth = start("webroot", options={"path": [str(first)], "map": {"a.example": str(first)}},
                 terminal=ScriptedDisplay(interactive=False))
    with pytest.raises(errors.MissingCommandlineFlag, match="--webroot-path"):
        auth.perform([http01("a.example", "tA", per_domain={})])
    assert os.listdir(first) == []


def test_missing_webroot_is_asked_once_and_reused(start, tmp_path):
    root = tmp_path / "asked"
    root.mkdir()
    term = ScriptedDisplay(answers=[str(root)])
    auth = start("webroot", terminal=term)
    challs = [http01("a.example", "tA"), http01("b.example", "tB")]
    auth.perform(challs)
    assert term.asked == [("directory_select", "Input the webroot for a.example:", "--webroot-path")]
    assert sorted(os.listdir(acme_dir(root))) == ["tA", "tB"]
    auth.cleanup(challs)
    assert os.listdir(root) == []


def test_missing_webroot_non_interactive_names_the_flag(start):
    auth = start("webroot", terminal=ScriptedDisplay(interactive=False))
    with pytest.raises(errors.MissingCommandlineFlag, match="--webroot-path"):
        auth.perform([http01("a.example", "tA")])


def test_webroot_that_does_not_exist_is_named(start, tmp_path):
    missing = tmp_path / "no" / "such"
    auth = start("webroot", options={"path": [str(missing)]})
    with pytest.raises(errors.PluginError, match=f"webroot path {missing} does not exist"):
        auth.prepare()
    with pytest.raises(errors.PluginError, match=f"webroot path {missing} does not exist"):
        auth.perform([http01("a.example", "tA")])
    assert not missing.exists(), "nothing is created for a wrong path"


def test_wildcard_is_refused_with_the_reason(start, tmp_path):
    auth = start("webroot", options={"path": [str(tmp_path)]})
    with pytest.raises(errors.PluginError, match=r"cannot validate \*\.example\.com .*dns-01"):
        auth.perform([dns01("example.com", "tW", wildcard=True)])
    assert not (tmp_path / ".well-known").exists()


def test_unwritable_webroot_names_path_and_user(start, tmp_path):
    """A webroot the plugin's user cannot write to (immutable: even root is refused).

    Running the plugin as another user is not possible here (the interpreter
    lives under /root), so the immutable flag makes the write fail for root.
    """
    user = pwd.getpwuid(os.geteuid()).pw_name
    root = tmp_path / "www"
    root.mkdir(mode=0o755)
    subprocess.run(["chattr", "+i", str(root)], check=True)
    try:
        auth = start("webroot", options={"path": [str(root)]})
        with pytest.raises(errors.PluginError) as info:
            auth.perform([http01("a.example", "tA")])
    finally:
        subprocess.run(["chattr", "-i", str(root)], check=True)
    message = str(info.value)
    assert f"Could not write {root}/.well-known" in message
    assert f"runs as user {user} (uid {os.geteuid()})" in message
    assert not (root / ".well-known").exists()


def test_cleanup_in_a_fresh_process_removes_only_what_it_created(start, tmp_path):
    """The kernel retries cleanup in a new process when the plugin died."""
    root = tmp_path / "www"
    root.mkdir()
    first = start("webroot", options={"path": [str(root)]}, state="webroot-state")
    chall = http01("a.example", "tA")
    first.perform([chall])
    first.process.kill()
    second = start("webroot", options={"path": [str(root)]}, state="webroot-state")
    second.cleanup([chall])
    assert os.listdir(root) == [], "files and the directories it created are gone"


def test_fresh_process_removes_its_tokens_even_when_someone_rewrote_one(start, tmp_path):
    """The name is ours in a directory we made: a rewritten file must not stay behind."""
    root = tmp_path / "www"
    root.mkdir()
    first = start("webroot", options={"path": [str(root)]}, state="webroot-state")
    ours, rewritten = http01("a.example", "tA"), http01("b.example", "tB")
    first.perform([ours, rewritten])
    (acme_dir(root) / "tB").write_text("changed by someone else")
    first.process.kill()
    second = start("webroot", options={"path": [str(root)]}, state="webroot-state")
    second.cleanup([ours, rewritten])
    assert os.listdir(root) == []


def test_fresh_process_without_a_record_removes_only_matching_tokens(start, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    first = start("webroot", options={"path": [str(root)]})
    ours, foreign = http01("a.example", "tA"), http01("b.example", "tB")
    first.perform([ours, foreign])
    (acme_dir(root) / "tB").write_text("changed by someone else")
    first.process.kill()
    second = start("webroot", options={"path": [str(root)]})  # another state dir: no record
    second.cleanup([ours, foreign])
    assert sorted(os.listdir(acme_dir(root))) == ["tB"]
