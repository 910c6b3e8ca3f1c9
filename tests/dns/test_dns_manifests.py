"""The generated DNS manifests say what scripts/gen-dns-manifests.py would write.

A provider's manifest lists the environment variables its credentials may come
from and its propagation default; edited by hand, they drift from the table
in plugins/dns/providers.py the plugin actually uses.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from certkernel.plugin_host.manifest import load_manifest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gen-dns-manifests.py"
DNS = REPO / "plugins" / "dns"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_dns_manifests", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


GEN = _generator()


def test_committed_manifests_are_what_the_generator_writes() -> None:
    assert GEN.stale(DNS) == []
    proc = subprocess.run([sys.executable, str(SCRIPT), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_a_hand_edit_or_a_missing_manifest_is_caught(tmp_path: Path) -> None:
    for manifest in DNS.glob("*/plugin.toml"):
        (tmp_path / manifest.parent.name).mkdir()
        shutil.copy(manifest, tmp_path / manifest.parent.name / "plugin.toml")
    assert GEN.stale(tmp_path) == []
    ovh = tmp_path / "ovh" / "plugin.toml"
    ovh.write_text(ovh.read_text().replace('"DNS_OVH_CONSUMER_KEY", ', ""))
    (tmp_path / "linode" / "plugin.toml").unlink()
    assert sorted(GEN.stale(tmp_path)) == [tmp_path / "linode" / "plugin.toml", ovh]


def test_every_manifest_that_says_generated_is_generated() -> None:
    generated = set(GEN.manifests(DNS))
    for manifest in sorted(DNS.glob("*/plugin.toml")):
        first = manifest.read_text().splitlines()[0]
        if manifest in generated:
            assert first.startswith("# Generated from plugins/dns/"), manifest
        else:
            assert first.startswith("# Written by hand"), manifest
    assert {p.parent.name for p in generated} >= {"rfc2136", "cloudflare", "ovh", "cloudxns"}


def test_generated_manifests_load_and_let_every_credential_variable_through() -> None:
    for path in GEN.manifests(DNS):
        manifest = load_manifest(path.parent, origin="builtin")
        entry = next(e for e in GEN.entries() if e.provider == path.parent.name)
        keys = entry.credentials.all_keys()
        assert set(manifest.env) == {f"DNS_{entry.provider.upper()}_{k.upper()}" for k in keys}
