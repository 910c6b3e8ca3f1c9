"""A ``python -m`` plugin never imports from its working directory.

Python puts the working directory first on ``sys.path`` for ``-m``; the
host starts ``{python}`` plugins with ``-P`` (and ``PYTHONSAFEPATH=1``), so
a module left in the plugin's state folder, which is its working
directory, is never imported. Checked with the built-in ``null`` plugin,
whose SDK imports ``msgpack`` and ``certkernel``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from certkernel.plugin_host.discovery import discover
from certkernel.plugin_host.launch import start_plugin
from certkernel.plugin_host.services import KernelServices


def test_module_in_the_working_directory_is_not_imported(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    marker = tmp_path / "imported"
    code = f"open({str(marker)!r}, 'a').write(__name__ + chr(10))\n"
    (state / "msgpack.py").write_text(code)
    (state / "certkernel").mkdir()
    (state / "certkernel" / "__init__.py").write_text(code)
    manifest = discover()["null"]
    proc = start_plugin(manifest, KernelServices("null").handle, state_dir=str(state),
                        logger=logging.getLogger("test.safe_path"))
    try:
        assert proc.info["protocol_version"] == 1
    finally:
        proc.close()
    assert not marker.exists(), marker.read_text()
    assert proc.plan.argv[1:3] == ["-P", "-s"]
    assert proc.plan.env["PYTHONSAFEPATH"] == "1"
