"""Hooks during ``renew``: order, count, variables, directory hooks."""

from __future__ import annotations

from pathlib import Path

from tests.renew.renew_env import Host, hook_script, log_lines


def test_hooks_order_count_and_variables(host: Host, tmp_path: Path) -> None:
    log = tmp_path / "hooks.log"
    for name in ("one.example.com", "two.example.com"):
        host.issue(name)
        host.make_due(name)
    hooks_dir = host.config_dir / "renewal-hooks"
    dir_pre = hook_script(hooks_dir / "pre" / "10-pre", log, "dir-pre")
    hook_script(hooks_dir / "pre" / "02-pre", log, "dir-pre-02")
    hook_script(hooks_dir / "deploy" / "deploy", log, "dir-deploy")
    hook_script(hooks_dir / "post" / "post", log, "dir-post")
    cli_pre = hook_script(tmp_path / "cli-pre", log, "cli-pre")
    cli_post = hook_script(tmp_path / "cli-post", log, "cli-post")
    cli_deploy = hook_script(tmp_path / "cli-deploy", log, "cli-deploy")

    result = host.renew("--pre-hook", str(cli_pre), "--post-hook", str(cli_post),
                        "--deploy-hook", str(cli_deploy))
    assert result.returncode == 0, result.stderr

    lines = [line.split()[0] for line in log_lines(log)]
    # directory hooks in byte order, before the command-line hook; once per distinct command
    assert lines[:3] == ["dir-pre-02", "dir-pre", "cli-pre"]
    assert lines[-2:] == ["dir-post", "cli-post"]
    deploys = [line for line in log_lines(log) if line.startswith(("dir-deploy", "cli-deploy"))]
    assert len(deploys) == 4
    for name in ("one.example.com", "two.example.com"):
        mine = [d for d in deploys if f"lineage={host.config_dir}/live/{name} " in d]
        assert [d.split()[0] for d in mine] == ["dir-deploy", "cli-deploy"]
        assert all(f"domains={name} " in d for d in mine)

    # a CLI hook that is a directory hook's path runs once; --no-directory-hooks skips them
    log.unlink()
    result = host.renew("--force-renewal", "--cert-name", "one.example.com",
                        "--pre-hook", str(dir_pre))
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in log_lines(log)].count("dir-pre") == 1
    log.unlink()
    result = host.renew("--force-renewal", "--cert-name", "one.example.com",
                        "--no-directory-hooks")
    assert result.returncode == 0, result.stderr
    # no directory hook runs; the saved hooks do (the pre hook saved last time is the
    # directory hook's path: without directory hooks it is an ordinary command)
    assert [line.split()[0] for line in log_lines(log)] == ["dir-pre", "cli-deploy", "cli-post"]


def test_no_hooks_when_nothing_due(host: Host, tmp_path: Path) -> None:
    log = tmp_path / "hooks.log"
    host.issue("idle.example.com")
    hook_script(host.config_dir / "renewal-hooks" / "pre" / "pre", log, "dir-pre")
    hook_script(host.config_dir / "renewal-hooks" / "post" / "post", log, "dir-post")

    result = host.renew("--pre-hook", f"echo pre >> {log}", "--post-hook", f"echo post >> {log}")

    assert result.returncode == 0, result.stderr
    assert not log.exists()


def test_post_hook_runs_after_failure_with_failed_domains(host: Host, tmp_path: Path) -> None:
    log = tmp_path / "hooks.log"
    host.issue("works.example.com")
    host.issue("fails.example.com")
    conf = host.conf_path("fails.example.com")
    conf.write_text(conf.read_text().replace(str(host.served.webroot), str(tmp_path / "nowhere")))
    post = hook_script(tmp_path / "post", log, "post")
    failing = tmp_path / "failing-deploy"
    failing.write_text("#!/bin/sh\necho deploy-broke >&2\nexit 3\n")
    failing.chmod(0o755)

    result = host.renew("--force-renewal", "--post-hook", str(post),
                        "--deploy-hook", str(failing))

    assert result.returncode == 1
    assert host.version("works.example.com") == 2  # a failing deploy hook stops nothing
    assert "deploy-broke" in result.stderr
    posts = log_lines(log)
    assert len(posts) == 1
    assert "failed=fails.example.com" in posts[0]


def test_hook_validation(host: Host) -> None:
    host.issue("valid.example.com")
    result = host.renew("--force-renewal", "--pre-hook", "no-such-program-xyz --flag")
    assert result.returncode == 1
    assert "no-such-program-xyz" in result.stderr
    assert host.version("valid.example.com") == 1
    ok = host.renew("--force-renewal", "--pre-hook", "no-such-program-xyz",
                    "--disable-hook-validation")
    assert ok.returncode == 0, ok.stderr
    assert host.version("valid.example.com") == 2
