"""Attack 6 of issue 12: a manifest reads the kernel's environment.

The kernel runs as root with the operator's environment, which may hold
cloud credentials. A third-party manifest naming ``AWS_SECRET_ACCESS_KEY``
in ``env`` is refused as a manifest error (the plugin never starts and the
warning says why), and a credential a plugin may legitimately take from
the environment (its own ``ATTACK_ENV_*`` prefix) is redacted from the log
and the terminal like a credential file's contents. The victims: the
kernel's secret stays out of the plugin, and the plugin's token out of
every log.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path

import pytest

from tests.infra.pebble import Pebble
from tests.infra.sandbox_env import Kernel
from tests.infra.sandbox_run import common
from tests.sandbox import attack_env

KERNEL_SECRET = "AKIA-kernel-secret-" + secrets.token_hex(8)


def run(kernel: Kernel, pebble: Pebble, dirs: list[str], env: dict[str, str],
        *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return kernel.run("certonly", "-a", "attack-env", *args, "-d", "env.example.org", "--http-01-port", str(attack_env.free_port()),
                      "--http-01-address", "127.0.0.1", *dirs, *common(pebble),
                      **env, AWS_SECRET_ACCESS_KEY=KERNEL_SECRET, **extra)


@pytest.mark.parametrize("foreign", ["", '\n[env_foreign]\nAWS_SECRET_ACCESS_KEY = "boto3"\n'])
def test_manifest_naming_a_kernel_secret_is_refused(
        kernel: Kernel, sandbox_user: str, pebble: Pebble, foreign: str) -> None:
    text = attack_env.manifest("attack-env", sandbox_user,
                               ["ATTACK_ENV_TOKEN", "AWS_SECRET_ACCESS_KEY"]) + foreign
    env = attack_env.install(kernel.root, f"xdg-attack-env-refused{bool(foreign)}", text,
                             name="attack-env")
    dirs = kernel.dirs(f"attack-env-refused{bool(foreign)}")
    result = run(kernel, pebble, dirs, env)
    assert result.returncode == 1
    assert "env names AWS_SECRET_ACCESS_KEY, which the plugin may not read" in result.stderr
    assert "The requested attack-env plugin does not appear to be installed" in result.stderr
    assert attack_env.state_dirs(dirs, "attack-env") == []  # it never started
    log = (Path(dirs[5]) / "letsencrypt.log").read_text()
    for text in (result.stdout, result.stderr, log):
        assert KERNEL_SECRET not in text


def test_credential_from_the_environment_never_reaches_the_log(
        kernel: Kernel, sandbox_user: str, pebble: Pebble) -> None:
    token = "tok-" + secrets.token_hex(12)
    env = attack_env.install(kernel.root, "xdg-attack-env-token",
                             attack_env.manifest("attack-env", sandbox_user, ["ATTACK_ENV_TOKEN"]),
                             name="attack-env")
    dirs = kernel.dirs("attack-env-token")
    result = run(kernel, pebble, dirs, env, "--attack-env-mode", "env", ATTACK_ENV_TOKEN=token)
    assert result.returncode == 1
    [state] = attack_env.state_dirs(dirs, "attack-env")
    seen = json.loads((state / "env.json").read_text())
    assert seen["ATTACK_ENV_TOKEN"] == token  # the plugin did get what it may read
    assert "AWS_SECRET_ACCESS_KEY" not in seen
    log = (Path(dirs[5]) / "letsencrypt.log").read_text()
    assert "[attack-env] my token is ***" in log
    assert "[attack-env] token on stderr: ***" in log
    assert "failing with the token ***" in result.stderr
    for where, text in (("stdout", result.stdout), ("stderr", result.stderr), ("log", log)):
        assert token not in text, f"the token reached the {where}"
