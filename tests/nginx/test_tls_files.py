"""options-ssl-nginx.conf and ssl-dhparams.pem: installed, upgraded only when unedited."""

from __future__ import annotations

import subprocess
from pathlib import Path

from certkernel.plugins.nginx.tls_files import DHPARAM_TEXT, OPTIONS_TEXT, TlsFiles


def _files(tmp_path: Path, warnings: list[str]) -> TlsFiles:
    return TlsFiles(str(tmp_path / "le"), str(tmp_path / "state"), warnings.append)


def test_installed_when_missing(tmp_path: Path) -> None:
    warnings: list[str] = []
    files = _files(tmp_path, warnings)
    files.ensure()
    assert Path(files.options_path).read_text() == OPTIONS_TEXT
    assert Path(files.dhparam_path).read_text() == DHPARAM_TEXT
    assert warnings == []


def test_dhparam_is_the_rfc7919_group(tmp_path: Path) -> None:
    files = _files(tmp_path, [])
    files.ensure()
    out = subprocess.run(["openssl", "dhparam", "-in", files.dhparam_path, "-text", "-noout"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    assert "ffdhe2048" in out


def test_user_edit_is_kept_and_warned(tmp_path: Path) -> None:
    warnings: list[str] = []
    files = _files(tmp_path, warnings)
    files.ensure()
    edited = OPTIONS_TEXT + "ssl_ecdh_curve X25519;\n"
    Path(files.options_path).write_text(edited)
    files.ensure()
    assert Path(files.options_path).read_text() == edited
    assert len(warnings) == 1 and "edited by hand" in warnings[0]


def test_recorded_old_version_is_upgraded(tmp_path: Path) -> None:
    """A file whose digest we recorded when installing it is ours to upgrade."""
    files = _files(tmp_path, [])
    Path(files.directory).mkdir(parents=True)
    Path(files.state_dir).mkdir(parents=True)
    old = "# an older certkernel version\nssl_protocols TLSv1.2;\n"
    Path(files.options_path).write_text(old)
    import hashlib
    import json

    digest = hashlib.sha256(old.encode()).hexdigest()
    (Path(files.state_dir) / "installed-digests.json").write_text(json.dumps({"options-ssl-nginx.conf": digest}))
    files.ensure()
    assert Path(files.options_path).read_text() == OPTIONS_TEXT
