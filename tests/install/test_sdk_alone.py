"""A third-party plugin in a virtualenv that holds only ``certkernel-sdk``.

What a plugin author does: build (or download) the SDK wheel, make a venv
for the plugin with nothing else in it, write the plugin, name that venv's
interpreter in the manifest's ``command``, and drop the folder into a plugin
directory of an installed certkernel. The plugin here is a dns-01
authenticator that publishes TXT records through pebble-challtestsrv's API
(with urllib: the venv has no requests), and the installed certkernel gets a
certificate from Pebble through it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest
from cryptography import x509

from tests.infra.pebble import Pebble
from tests.install.conftest import INSTALL_TIMEOUT, Dist, InstalledVenv

PLUGIN = '''
"""tp-dns: publishes dns-01 TXT records through a challtestsrv-style HTTP API."""
import json
import re
import sys
import sys
import urllib.request

from certkernel.sdk import Authenticator, MisconfigurationError, serve


class TxtApi(Authenticator):
    name = "tp-dns"
    version = "1.0.0"

    def prepare(self):
        if not self.options.get("api"):
            raise MisconfigurationError("tp-dns needs --tp-dns-api URL")
        self.kernel.log("info", f"tp-dns runs on {sys.executable}")

    def get_chall_pref(self, domain):
        return ["dns-01"]

    def _post(self, path, body):
        request = urllib.request.Request(
            self.options["api"].rstrip("/") + path, data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def perform(self, challenges):
        for chall in challenges:
            self._post("/set-txt", {"host": chall.validation_domain_name + ".",
                                    "value": chall.validation})

    def cleanup(self, challenges):
        for chall in challenges:
            self._post("/clear-txt", {"host": chall.validation_domain_name + "."})


if __name__ == "__main__":
    serve(TxtApi)
'''


def _plugin_venv(root: Path, dist: Dist) -> Path:
    venv.EnvBuilder(with_pip=True, symlinks=True).create(root)
    python = root / "bin" / "python"
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q",
                           "--disable-pip-version-check", str(dist.sdk_wheel)],
                          capture_output=True, text=True, timeout=INSTALL_TIMEOUT, cwd=root,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return python


def test_sdk_venv_holds_msgpack_and_the_sdk_only(dist: Dist, tmp_path: Path) -> None:
    python = _plugin_venv(tmp_path / "plugin-venv", dist)
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=json",
                             "--disable-pip-version-check"], capture_output=True, text=True,
                            timeout=120, check=True, cwd=tmp_path)
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert names - {"pip", "setuptools"} == {"certkernel-sdk", "msgpack"}
    # the SDK imports, and nothing of the kernel is there to import by accident
    probe = ("import importlib.util, certkernel.sdk, certkernel.protocol.errors; "
             "print([importlib.util.find_spec(m) is None for m in "
             "('certkernel.errors', 'certkernel.main', 'certkernel.plugin_host', "
             "'acme', 'cryptography')])")
    out = subprocess.run([str(python), "-I", "-c", probe], capture_output=True, text=True,
                         timeout=60, check=False, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[True, True, True, True, True]"


@pytest.mark.slow
def test_third_party_plugin_in_its_own_venv_gets_a_certificate(
        dist: Dist, installed: InstalledVenv, pebble: Pebble, tmp_path: Path) -> None:
    python = _plugin_venv(tmp_path / "plugin-venv", dist)
    plugins = tmp_path / "plugins"
    folder = plugins / "tp-dns"
    folder.mkdir(parents=True)
    (folder / "plugin.py").write_text(PLUGIN)
    (folder / "plugin.toml").write_text(textwrap.dedent(f"""\
        name = "tp-dns"
        description = "dns-01 through a challtestsrv-style API (third-party test plugin)"
        version = "1.0.0"
        roles = ["authenticator"]
        challenges = ["dns-01"]
        command = ["{python}", "{{dir}}/plugin.py"]
        protocol_versions = [1]

        [[options]]
        name = "api"
        type = "str"
        help = "Base URL of the TXT record API"
        """))
    for path in (plugins, folder):
        path.chmod(0o755)
    env = {**installed.env(), "CERTKERNEL_PLUGIN_PATH": str(plugins)}
    dirs = ["--config-dir", str(tmp_path / "config"), "--work-dir", str(tmp_path / "work"),
            "--logs-dir", str(tmp_path / "logs")]

    listed = subprocess.run([str(installed.bin / "certkernel"), "plugins", *dirs],
                            capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
                            check=False)
    assert listed.returncode == 0, listed.stderr
    assert f"Manifest: {folder / 'plugin.toml'}" in listed.stdout

    proc = subprocess.run(
        [str(installed.bin / "certkernel"), "certonly", "-a", "tp-dns",
         "--tp-dns-api", pebble.challtestsrv_url, "-d", "thirdparty.example", "-n",
         "--agree-tos", "-m", "ops@example.org", "--server", pebble.directory_url,
         "--ca-bundle", pebble.ca_bundle, *dirs],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
        stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cert = x509.load_pem_x509_certificate(
        (tmp_path / "config/live/thirdparty.example/cert.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["thirdparty.example"]
    # it ran on its own venv's interpreter, not certkernel's
    logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "logs").rglob("*")
                   if p.is_file())
    assert f"tp-dns runs on {python}" in logs


EP_PLUGIN = '''
"""epdemo: the smallest pip-distributed authenticator (it publishes nothing)."""
from certkernel.sdk import Authenticator, serve


class EpDemo(Authenticator):
    """Accepts every challenge and publishes nothing; for packaging tests."""

    name = "epdemo"
    version = "1.0.0"

    def get_chall_pref(self, domain):
        return ["http-01"]

    def perform(self, challenges):
        pass

    def cleanup(self, challenges):
        pass


if __name__ == "__main__":
    serve(EpDemo)
'''


def test_plugin_distributed_through_the_entry_point_group(
        installed: InstalledVenv, tmp_path: Path) -> None:
    """sdk/README.md "Distributing a plugin through pip", followed to the letter."""
    project = tmp_path / "certkernel-epdemo"
    package = project / "certkernel_epdemo"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(EP_PLUGIN)
    (package / "plugin.toml").write_text(textwrap.dedent("""\
        name = "epdemo"
        description = "The smallest pip-distributed authenticator"
        version = "1.0.0"
        roles = ["authenticator"]
        challenges = ["http-01"]
        command = ["{python}", "-m", "certkernel_epdemo"]
        protocol_versions = [1]
        """))
    (project / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["setuptools>=77"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "certkernel-epdemo"
        version = "1.0.0"
        dependencies = ["certkernel-sdk~=0.1"]

        [project.entry-points."certkernel.plugins"]
        epdemo = "certkernel_epdemo"

        [tool.setuptools]
        packages = ["certkernel_epdemo"]

        [tool.setuptools.package-data]
        certkernel_epdemo = ["plugin.toml"]
        """))
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                            "--no-build-isolation", "-w", str(wheels), str(project)],
                           capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr
    wheel = next(wheels.glob("certkernel_epdemo-*.whl"))
    pip = subprocess.run([str(installed.python), "-m", "pip", "install", "-q",
                          "--disable-pip-version-check", str(wheel)], capture_output=True,
                         text=True, timeout=INSTALL_TIMEOUT, check=False, cwd=tmp_path)
    assert pip.returncode == 0, pip.stderr
    try:
        dirs = ["--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w"),
                "--logs-dir", str(tmp_path / "l")]
        listed = installed.run("plugins", *dirs, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        manifest = re.search(r"^\* epdemo\n(?:.*\n)*?Manifest: (\S+)", listed.stdout, re.M)
        assert manifest is not None, listed.stdout
        assert manifest.group(1).startswith(str(installed.root))
        assert manifest.group(1).endswith("site-packages/certkernel_epdemo/plugin.toml")
        checked = installed.run("plugin-check", "epdemo", "-n", *dirs, cwd=tmp_path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "plugin epdemo conforms" in checked.stdout
    finally:
        subprocess.run([str(installed.python), "-m", "pip", "uninstall", "-q", "-y",
                        "certkernel-epdemo"], capture_output=True, timeout=120, check=False)
