"""Checkpoints through the Reverter API: what a user sees on disk after each step."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from certkernel.checkpoints.reverter import Reverter
from certkernel.errors import ReverterError
from tests.reverter.tree import change_all, snapshot


def _paths(files: dict[str, Path]) -> list[str]:
    return [str(p) for p in files.values()]


def test_rollback_restores_bytes_and_modes_in_several_dirs(
    reverter: Reverter, root: Path, files: dict[str, Path]
) -> None:
    before = snapshot(root)
    reverter.add(_paths(files), roots=[str(root)])
    change_all(files, "installer")
    assert snapshot(root) != before
    reverter.finalize("Deployed certificate for example.com")

    results = reverter.rollback(1)

    assert snapshot(root) == before
    assert sorted(results[0].restored) == sorted(_paths(files))
    assert results[0].title == "Deployed certificate for example.com"
    assert reverter.view() == []


def test_second_add_in_a_checkpoint_keeps_the_first_copy(
    reverter: Reverter, root: Path, files: dict[str, Path]
) -> None:
    before = snapshot(root)
    reverter.add([str(files["main"])], roots=[str(root)])
    change_all(files, "first edit")
    reverter.add([str(files["main"]), str(files["site"])], roots=[str(root)])  # main: no-op; site: already changed
    changed_site = files["site"].read_bytes()
    change_all(files, "second edit")
    reverter.finalize("two edits")

    reverter.rollback(1)

    assert files["main"].read_bytes() == before["etc/nginx/nginx.conf"][0]
    assert files["site"].read_bytes() == changed_site


def test_new_files_and_directories_are_deleted_on_rollback(
    reverter: Reverter, root: Path, files: dict[str, Path]
) -> None:
    before = snapshot(root)
    new_dir = root / "etc" / "nginx" / "le snippets"
    new_file = new_dir / "options-ssl.conf"
    never_made = root / "etc" / "nginx" / "planned-but-not-created.conf"
    reverter.register_new([str(new_dir), str(new_file), str(never_made)], roots=[str(root)])
    new_dir.mkdir()
    new_file.write_text("ssl_protocols TLSv1.2 TLSv1.3;\n")
    reverter.add([str(files["main"])], roots=[str(root)])
    files["main"].write_text("include le snippets/options-ssl.conf;\n")
    reverter.finalize("enable TLS")

    results = reverter.rollback(1)

    assert not new_dir.exists()
    assert snapshot(root) == before
    assert results[0].removed == [str(new_file), str(new_dir)]


def test_temporary_changes_revert_exactly_and_leave_finalized_ones(
    reverter: Reverter, root: Path, files: dict[str, Path]
) -> None:
    reverter.add([str(files["site"])], roots=[str(root)])
    files["site"].write_text("server { listen 443 ssl; }\n")
    reverter.finalize("installed")
    after_install = snapshot(root)

    challenge = root / "etc" / "nginx" / "acme-challenge.conf"
    reverter.add([str(files["main"]), str(files["binary"])], temporary=True, roots=[str(root)])
    reverter.register_new([str(challenge)], temporary=True, roots=[str(root)])
    challenge.write_text("location /.well-known/acme-challenge/ {}\n")
    change_all({"main": files["main"], "binary": files["binary"]}, "challenge")

    result = reverter.revert_temporary()

    assert result is not None and result.kind == "temporary"
    assert snapshot(root) == after_install
    assert [info.kind for info in reverter.view()] == ["finalized"]
    assert reverter.revert_temporary() is None


def test_permanent_save_of_a_file_under_temporary_change_is_refused(
    reverter: Reverter, root: Path, files: dict[str, Path]
) -> None:
    reverter.add([str(files["main"])], temporary=True, roots=[str(root)])
    files["main"].write_text("temporary\n")
    with pytest.raises(ReverterError, match="nginx.conf.*temporary"):
        reverter.add([str(files["main"])], roots=[str(root)])


def test_rollback_goes_newest_first_and_honours_count(
    reverter: Reverter, root: Path, files: dict[str, Path]
) -> None:
    conf = files["main"]
    versions = [conf.read_bytes()]
    for i in range(1, 4):
        reverter.add([str(conf)], roots=[str(root)])
        conf.write_bytes(f"version {i}\n".encode())
        versions.append(conf.read_bytes())
        reverter.finalize(f"edit {i}")

    titles = [info.title for info in reverter.view()]
    assert titles == ["edit 3", "edit 2", "edit 1"]

    assert [r.title for r in reverter.rollback(1)] == ["edit 3"]
    assert conf.read_bytes() == versions[2]
    assert [r.title for r in reverter.rollback(2)] == ["edit 2", "edit 1"]
    assert conf.read_bytes() == versions[0]


def test_rollback_zero_changes_nothing_and_more_than_exist_restores_all(
    reverter: Reverter, root: Path, files: dict[str, Path]
) -> None:
    before = snapshot(root)
    reverter.add([str(files["main"])], roots=[str(root)])
    files["main"].write_text("one\n")
    reverter.finalize("one")
    reverter.add([str(files["main"])], roots=[str(root)])
    files["main"].write_text("two\n")
    reverter.finalize("two")

    assert reverter.rollback(0) == []
    assert files["main"].read_text() == "two\n"

    assert [r.title for r in reverter.rollback(10)] == ["two", "one"]
    assert snapshot(root) == before
    assert reverter.rollback(3) == []


@pytest.mark.parametrize("count", [-1, "2", 1.5, True])
def test_rollback_refuses_a_bad_count(reverter: Reverter, count: object) -> None:
    with pytest.raises(ReverterError, match="positive integer"):
        reverter.rollback(count)  # type: ignore[arg-type]


def test_rollback_undoes_unfinished_changes_before_finalized_ones(
    reverter: Reverter, root: Path, files: dict[str, Path]
) -> None:
    conf = files["main"]
    original = conf.read_bytes()
    reverter.add([str(conf)], roots=[str(root)])
    conf.write_text("finalized edit\n")
    reverter.finalize("finalized")
    reverter.add([str(conf)], roots=[str(root)])
    conf.write_text("unfinished edit\n")

    kinds = [r.kind for r in reverter.rollback(1)]

    assert kinds == ["in-progress", "finalized"]
    assert conf.read_bytes() == original
    assert not reverter.needs_recovery()


def test_layout_is_certbots(reverter: Reverter, work_dir: Path, root: Path,
                            files: dict[str, Path]) -> None:
    planned = root / "etc" / "nginx" / "conf.d" / "new one.conf"  # conf.d does not exist yet
    reverter.add([str(files["site"]), str(files["main"])], roots=[str(root)])
    reverter.register_new([str(planned)], roots=[str(root)])
    assert (work_dir / "IN_PROGRESS" / "FILEPATHS").read_text() == (
        f"{files['site']}\n{files['main']}\n"
    )
    name = reverter.finalize("Deployed cert")
    assert name is not None
    cp = work_dir / "backups" / name
    assert abs(float(name) - os.path.getmtime(cp)) < 60
    assert sorted(os.listdir(cp)) == sorted(
        ["FILEPATHS", "NEW_FILES", "CHANGES_SINCE", "ROOTS", "example com.conf_0", "nginx.conf_1"]
    )
    assert (cp / "ROOTS").read_text() == f"{root}\n"
    assert (cp / "CHANGES_SINCE").read_text() == "-- Deployed cert --\n"
    assert (cp / "NEW_FILES").read_text() == f"{planned}\n"
    assert (cp / "nginx.conf_1").read_bytes() == files["main"].read_bytes()
    assert stat.S_IMODE(os.stat(cp).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(work_dir / "backups").st_mode) == 0o700
    assert not (work_dir / "IN_PROGRESS").exists()
    assert reverter.finalize("nothing in progress") is None


def test_a_checkpoint_written_by_certbot_rolls_back(
    reverter: Reverter, work_dir: Path, root: Path, files: dict[str, Path]
) -> None:
    """A work dir Certbot left (its reverter's files, by hand) is restored by us."""
    before = snapshot(root)
    cp = work_dir / "backups" / "1596000000.123456"
    cp.mkdir(parents=True)
    (cp / "FILEPATHS").write_text(f"{files['main']}\n")
    (cp / "nginx.conf_0").write_bytes(files["main"].read_bytes())
    os.chmod(cp / "nginx.conf_0", 0o644)
    created = root / "etc" / "nginx" / "options-ssl-nginx.conf"
    (cp / "NEW_FILES").write_text(f"{created}\n")
    (cp / "CHANGES_SINCE").write_text("-- Deployed Certificate to example.com --\nsome note\n")
    files["main"].write_text("certbot edited this\n")
    created.write_text("ssl_session_cache shared:le_nginx_SSL:10m;\n")

    infos = reverter.view()
    assert [(i.title, i.files) for i in infos] == [
        ("Deployed Certificate to example.com", [str(files["main"])])
    ]
    assert infos[0].when.startswith("2020-07-2")

    reverter.rollback(1)
    assert snapshot(root) == before


def test_a_path_through_a_symlink_is_refused_and_the_link_kept(
    reverter: Reverter, root: Path, files: dict[str, Path]
) -> None:
    """sites-enabled/x -> ../sites-available/x: the installer names the real file
    (PROTOCOL.md, Confinement); the link itself is never checkpointed."""
    enabled = root / "etc" / "nginx" / "sites-enabled"
    enabled.mkdir()
    link = enabled / "example.conf"
    link.symlink_to("../sites-available/example com.conf")
    with pytest.raises(ReverterError, match="example.conf is, or passes through, a symbolic link"):
        reverter.add([str(link)], roots=[str(root)])
    original = files["site"].read_bytes()
    reverter.add([os.path.realpath(link)], roots=[str(root)])
    files["site"].write_text("changed\n")
    reverter.finalize("real path")

    reverter.rollback(1)

    assert link.is_symlink()
    assert files["site"].read_bytes() == original


def test_damaged_checkpoint_restores_nothing_and_names_the_file(
    reverter: Reverter, root: Path, work_dir: Path, files: dict[str, Path]
) -> None:
    reverter.add([str(files["main"]), str(files["site"])], roots=[str(root)])
    files["main"].write_text("edited main\n")
    files["site"].write_text("edited site\n")
    name = reverter.finalize("two files")
    assert name is not None
    os.unlink(work_dir / "backups" / name / "example com.conf_1")

    with pytest.raises(ReverterError, match="example com.conf is missing; nothing was restored"):
        reverter.rollback(1)

    assert files["main"].read_text() == "edited main\n"
    assert (work_dir / "backups" / name / "FILEPATHS").exists()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("relative/file.conf", "must be absolute"),
        ("/etc/with\nnewline", "line break"),
        ("etc/nginx/not-there.conf", "not-there.conf: it does not exist"),
        ("/etc/passwd", "/etc/passwd is outside the checkpoint's roots"),
    ],
)
def test_bad_paths_give_one_clear_error(reverter: Reverter, root: Path, path: str,
                                        message: str) -> None:
    if not path.startswith("/") and "relative" not in path:
        path = str(root / path)
    with pytest.raises(ReverterError, match=message):
        reverter.add([path], roots=[str(root)])
    assert "\n" not in str(ReverterError(message))
    assert not reverter.needs_recovery()  # a refused call leaves no checkpoint behind


def test_a_directory_cannot_be_saved(reverter: Reverter, root: Path, files: dict[str, Path]) -> None:
    with pytest.raises(ReverterError, match="not a regular file"):
        reverter.add([str(root / "etc")], roots=[str(root)])


def test_view_lists_every_kind_with_files(reverter: Reverter, root: Path, files: dict[str, Path]) -> None:
    reverter.add([str(files["main"])], roots=[str(root)])
    reverter.finalize("first")
    reverter.add([str(files["site"])], roots=[str(root)])
    reverter.add([str(files["binary"])], temporary=True, roots=[str(root)])

    infos = reverter.view()

    assert [(i.kind, i.title, i.files) for i in infos] == [
        ("temporary", "", [str(files["binary"])]),
        ("in-progress", "", [str(files["site"])]),
        ("finalized", "first", [str(files["main"])]),
    ]
    assert infos[0].when == "unfinished"
    assert reverter.needs_recovery()


def test_restore_removes_the_temp_file_a_killed_restore_left(
    reverter: Reverter, root: Path, files: dict[str, Path]
) -> None:
    """A restore killed inside its atomic write leaves ``.ck-tmp-<name>.<hex>``
    beside the file; a glob include would load it, so the next restore deletes it."""
    before = snapshot(root)
    reverter.add([str(files["main"])], roots=[str(root)])
    files["main"].write_text("edited\n")
    reverter.finalize("edit")
    nginx = files["main"].parent
    (nginx / ".ck-tmp-nginx.conf.0123456789ab").write_text("user www")
    unrelated = nginx / ".ck-tmp-mime.types.0123456789ab"
    unrelated.write_text("someone else's write")

    reverter.rollback(1)

    assert snapshot(root) == {**before, str(unrelated.relative_to(root)): (b"someone else's write", 0o644)}


def test_closing_the_store_reverts_the_temporary_changes_it_recorded(
    work_dir: Path, root: Path, files: dict[str, Path]
) -> None:
    """PROTOCOL.md §5.5: temporary changes never outlive the run that made them."""
    before = snapshot(root)
    challenge = root / "etc" / "nginx" / "challenge.inc"
    with Reverter(str(work_dir), lock_timeout=5) as rev:
        rev.add([str(files["main"])], temporary=True, roots=[str(root)])
        rev.register_new([str(challenge)], temporary=True, roots=[str(root)])
        files["main"].write_text("include challenge.inc;\n")
        challenge.write_text("location = /x { return 200 y; }\n")
    assert snapshot(root) == before
    assert Reverter(str(work_dir)).view() == []


def test_a_store_reverts_only_temporary_changes_it_recorded(
    work_dir: Path, root: Path, files: dict[str, Path]
) -> None:
    """Another run's temporary change (it holds the lock) is not this store's to revert,
    and a store that recorded none neither waits for the lock nor touches anything."""
    with Reverter(str(work_dir), lock_timeout=5) as other:
        other.add([str(files["main"])], temporary=True, roots=[str(root)])
        files["main"].write_text("the other run's challenge\n")
        bystander = Reverter(str(work_dir), lock_timeout=0.1)
        assert bystander.revert_own_temporary() is None
        bystander.close()
        assert files["main"].read_text() == "the other run's challenge\n"
        assert [info.kind for info in other.view()] == ["temporary"]
