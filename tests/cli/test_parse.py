"""argv + cli.ini -> Config: Certbot's flags, ordering rules, precedence and provenance."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from certkernel.cmdline.cli import UsageError, parse
from certkernel.cmdline.cli_flags import FLAGS, LE_PRODUCTION, LE_STAGING
from certkernel.config import Config
from certkernel.errors import ConfigurationError
from certkernel.plugin_host.discovery import discover

PROBE_OPTIONS = """
[[options]]
name = "port"
type = "int"
default = 8080
help = "probe port"

[[options]]
name = "verbose-log"
type = "bool"
default = false

[[options]]
name = "root"
type = "list"
repeatable = true

[[options]]
name = "credentials"
type = "secret-file"
"""


@pytest.fixture
def env(tmp_path: Path, make_plugin: Callable[..., Path]) -> dict[str, str]:
    make_plugin(tmp_path / "plugins", "probe", options=PROBE_OPTIONS)
    make_plugin(tmp_path / "plugins", "webby", roles=("authenticator", "installer"))
    make_plugin(tmp_path / "plugins", "other")
    return {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "CERTKERNEL_PLUGIN_PATH": str(tmp_path / "plugins"),
    }


def run(argv: list[str], env: dict[str, str]) -> Config:
    result = parse(argv, discover(env=env), env)
    assert isinstance(result, Config)
    return result


def test_every_flag_dest_is_a_config_field() -> None:
    fields = {f.name for f in dataclasses.fields(Config)}
    assert {flag.dest for flag in FLAGS} <= fields


def test_defaults_like_certbot(env: dict[str, str]) -> None:
    c = run([], env)
    assert c.verb == "run"
    assert (c.key_type, c.elliptic_curve, c.rsa_key_size) == ("ecdsa", "secp256r1", 2048)
    assert c.server == LE_PRODUCTION
    assert (c.config_dir, c.work_dir, c.logs_dir) == (
        "/etc/letsencrypt", "/var/lib/letsencrypt", "/var/log/letsencrypt")
    assert (c.http01_port, c.https_port, c.max_log_backups, c.checkpoints) == (80, 443, 1000, 1)
    assert c.explicit == frozenset()
    assert c.source("server") == "default"


def test_domains_repeatable_comma_lists_and_order(env: dict[str, str]) -> None:
    c = run(["certonly", "-d", "Example.COM,www.example.com", "--domain", "b.test",
             "-d", "example.com", "--domains=c.test"], env)
    assert c.domains == ["example.com", "www.example.com", "b.test", "c.test"]
    assert c.is_set("domains") and c.source("domains") == "command line"


def test_webroot_paths_apply_to_following_domains(env: dict[str, str]) -> None:
    c = run(["certonly", "-w", "/srv/a", "-d", "pre.test", "-d", "a.test",
             "-w", "/srv/b", "-d", "b.test,c.test",
             "--webroot-map", '{"c.test,d.test": "/srv/m"}'], env)
    assert c.get("webroot_map") == {"pre.test": "/srv/a", "a.test": "/srv/a", "b.test": "/srv/b",
                                    "c.test": "/srv/m", "d.test": "/srv/m"}
    assert c.domains == ["pre.test", "a.test", "b.test", "c.test", "d.test"]
    assert c.get("webroot_path") == ["/srv/a", "/srv/b"]
    # The pairing the user made is theirs: saved for renewal like Certbot's [[webroot_map]].
    assert {"webroot_path", "webroot_map"} <= c.explicit


def test_one_webroot_after_the_domains_covers_them_but_two_are_ambiguous(
        env: dict[str, str]) -> None:
    c = run(["certonly", "-d", "a.test", "-d", "b.test", "-w", "/srv/a"], env)
    assert c.get("webroot_map") == {"a.test": "/srv/a", "b.test": "/srv/a"}
    # Certbot's rule: with several -w, one must come before every -d.
    with pytest.raises(ConfigurationError) as info:
        run(["certonly", "-d", "a.test", "-w", "/srv/a", "-d", "b.test", "-w", "/srv/b"], env)
    assert str(info.value) == ("If you specify multiple -w values, one of them must precede "
                               "all domain flags (-d)")


def test_a_third_party_per_domain_option_pairs_like_webroot(
        tmp_path: Path, make_plugin: Callable[..., Path]) -> None:
    make_plugin(tmp_path / "plugins", "zoner", options=(
        '[[options]]\nname = "zone"\ntype = "list"\nper_domain = "zones"\n\n'
        '[[options]]\nname = "zones"\ntype = "map"\n'))
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
           "CERTKERNEL_PLUGIN_PATH": str(tmp_path / "plugins")}
    c = run(["certonly", "--zoner-zone", "z1", "-d", "a.test", "--zoner-zone", "z2",
             "-d", "B.test", "--zoner-zones", '{"c.test": "z3"}'], env)
    zoner = c.manifests["zoner"]
    assert c.plugin_options(zoner) == {"zone": ["z1", "z2"],
                                       "zones": {"a.test": "z1", "b.test": "z2", "c.test": "z3"}}
    assert c.domains == ["a.test", "b.test", "c.test"]
    # Not a path option ([confine] does not list it): values stay as given.
    assert c.source("zoner_zones") == "command line"


def test_subcommand_anywhere_and_usage_errors(env: dict[str, str]) -> None:
    assert run(["-n", "certonly", "-d", "a.test"], env).verb == "certonly"
    assert run(["--cert-name", "renew", "certificates"], env).certname == "renew"
    with pytest.raises(UsageError, match="only one subcommand"):
        run(["certonly", "renew"], env)
    with pytest.raises(UsageError, match="stray argument 'example.com'"):
        run(["certonly", "example.com"], env)
    with pytest.raises(UsageError, match="unrecognized arguments: --frobnicate"):
        run(["--frobnicate"], env)
    with pytest.raises(UsageError, match="--key-type"):
        run(["--key-type", "dsa"], env)
    with pytest.raises(ConfigurationError, match="expects an integer"):
        run(["--rsa-key-size", "big"], env)


def test_short_flag_clusters(env: dict[str, str]) -> None:
    c = run(["-vvv", "-nd", "a.test", "certonly"], env)
    assert c.verbose_count == 3 and c.noninteractive_mode and c.domains == ["a.test"]


def test_plugin_flags_typed_from_manifest(env: dict[str, str]) -> None:
    c = run(["certonly", "--probe", "--probe-port", "9090", "--probe-verbose-log",
             "--probe-root", "/x,y", "--probe-root", "/z", "--probe-credentials", "~/c.ini"], env)
    assert c.authenticator == "probe" and c.installer is None
    probe = c.manifests["probe"]
    assert c.plugin_options(probe) == {"port": 9090, "verbose-log": True,
                                       "root": ["/x,y", "/z"],
                                       # plugins run in their own dir: file options are absolute
                                       "credentials": str(Path(env["HOME"]) / "c.ini")}
    assert run(["--probe-verbose-log", "false"], env).get("probe_verbose_log") is False
    assert run([], env).plugin_options(probe)["port"] == 8080


def test_plugin_selection_rules(env: dict[str, str]) -> None:
    c = run(["--webby"], env)
    assert (c.authenticator, c.installer) == ("webby", "webby")
    c = run(["-a", "probe", "-i", "webby"], env)
    assert (c.authenticator, c.installer) == ("probe", "webby")
    c = run(["--probe", "-i", "webby"], env)
    assert (c.authenticator, c.installer) == ("probe", "webby")
    with pytest.raises(ConfigurationError, match="Too many flags setting the authenticator"):
        run(["--probe", "--other"], env)
    with pytest.raises(ConfigurationError, match="--webby asks for 'webby'"):
        run(["-a", "probe", "--webby"], env)


def test_staging_dry_run_and_server(env: dict[str, str]) -> None:
    assert run(["--staging"], env).server == LE_STAGING
    assert run(["--test-cert"], env).source("server") == "--staging"
    assert run(["certonly", "--dry-run"], env).server == LE_STAGING
    assert run(["certonly", "--dry-run", "--server", "https://127.0.0.1:14000/dir"],
               env).server == "https://127.0.0.1:14000/dir"
    with pytest.raises(ConfigurationError, match="conflicts with --staging"):
        run(["--staging", "--server", "https://127.0.0.1:14000/dir"], env)
    with pytest.raises(ConfigurationError, match="--dry-run can only be used"):
        run(["revoke", "--dry-run"], env)


def test_interactivity_flags(env: dict[str, str]) -> None:
    assert run(["-q"], env).noninteractive_mode
    with pytest.raises(ConfigurationError, match="nonsensical"):
        run(["-n", "--force-interactive"], env)
    with pytest.raises(ConfigurationError, match="renew"):
        run(["renew", "--force-interactive"], env)


def test_misc_semantics(env: dict[str, str]) -> None:
    assert run(["--preferred-challenges", "http,dns", "--preferred-challenges", "dns-01"],
               env).pref_challs == ["http-01", "dns-01"]
    with pytest.raises(ConfigurationError, match="unknown challenge type 'smtp'"):
        run(["--preferred-challenges", "smtp"], env)
    c = run(["--rsa-key-size", "4096"], env)
    assert (c.key_type, c.rsa_key_size) == ("rsa", 4096)
    assert run(["--keep"], env).reinstall and run(["--renew-by-default"], env).renew_by_default
    assert run(["--no-eff-email"], env).eff_email is False
    assert run(["--eff-email"], env).eff_email is True
    assert run([], env).eff_email is None
    assert run(["--renew-hook", "echo hi"], env).deploy_hook == "echo hi"
    assert run(["--no-directory-hooks", "--disable-hook-validation"], env).directory_hooks is False
    assert run(["--no-random-sleep-on-renew"], env).random_sleep_on_renew is False
    assert run(["--no-redirect"], env).redirect is False
    assert run(["revoke", "--reason", "keycompromise"], env).reason == "keycompromise"
    assert run(["--plugin-user", "nobody:nogroup"], env).plugin_user == "nobody:nogroup"
    with pytest.raises(ConfigurationError, match="--eab-kid and --eab-hmac-key"):
        run(["--eab-kid", "kid"], env)
    with pytest.raises(ConfigurationError, match="--csr only works with the certonly"):
        run(["run", "--csr", "/tmp/x.csr"], env)
    with pytest.raises(ConfigurationError, match="port between 1 and 65535"):
        run(["--http-01-port", "70000"], env)
    assert run(["--config-dir", "~/le"], env).config_dir == str(Path(env["HOME"]) / "le")


def test_ca_bundle_from_environment(env: dict[str, str]) -> None:
    c = run([], {**env, "REQUESTS_CA_BUNDLE": "/etc/ssl/pebble.pem"})
    assert c.ca_bundle == "/etc/ssl/pebble.pem"
    assert c.source("ca_bundle") == "environment REQUESTS_CA_BUNDLE"
    assert not c.is_set("ca_bundle")
    c = run(["--ca-bundle", "/x/ca.pem"], {**env, "REQUESTS_CA_BUNDLE": "/etc/ssl/pebble.pem"})
    assert c.ca_bundle == "/x/ca.pem" and c.is_set("ca_bundle")


def write_ini(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_cli_ini_values_and_precedence(env: dict[str, str], tmp_path: Path) -> None:
    user_ini = write_ini(Path(env["XDG_CONFIG_HOME"]) / "letsencrypt" / "cli.ini",
                         "# user defaults\nrsa-key-size = 4096\nemail = user@example.com\n")
    extra = write_ini(tmp_path / "extra.ini", "\n".join([
        "[ignored section]",
        "key-type = rsa",
        "email: ops@example.com",
        "agree-tos = true",
        "no-eff-email",
        "staging = false",
        'webroot-map = {"a.test": "/srv/a"}',
        "probe-port = 7070",
        "probe = true",
        "preferred-challenges = http",
        "verbose = 2",
    ]) + "\n")
    c = run(["-c", str(extra), "--email", "cli@example.com"], env)
    assert c.rsa_key_size == 4096 and c.source("rsa_key_size") == f"{user_ini}:2"
    assert c.key_type == "rsa" and c.source("key_type") == f"{extra}:2"
    assert c.email == "cli@example.com" and c.source("email") == "command line"
    assert c.tos is True and c.eff_email is False and c.staging is False
    assert c.get("webroot_map") == {"a.test": "/srv/a"} and c.domains == ["a.test"]
    assert c.get("probe_port") == 7070 and c.authenticator == "probe"
    assert c.pref_challs == ["http-01"] and c.verbose_count == 2
    assert c.config_files == (str(user_ini), str(extra))
    assert c.config_file == str(extra)
    assert {"rsa_key_size", "key_type", "email", "tos"} <= c.explicit
    assert "server" not in c.explicit


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("rsa-key-sise = 4096", "unknown option 'rsa-key-sise'"),
        ("rsa-key-size = lots", "expects an integer"),
        ("agree-tos = perhaps", "expects true or false"),
        ("webroot-map = {\"a.test\":", "JSON object on one line"),
        ("key-type = dsa", "key-type must be one of rsa, ecdsa"),
        ("email", "needs a value"),
        ("config = /x", "cannot be set in a config file"),
    ],
)
def test_cli_ini_errors_name_file_and_line(env: dict[str, str], tmp_path: Path, line: str, message: str) -> None:
    ini = write_ini(tmp_path / "bad.ini", f"# comment\nexpand = true\n{line}\n")
    with pytest.raises(ConfigurationError) as info:
        run(["-c", str(ini)], env)
    assert message in str(info.value)
    assert f"{ini}:3" in str(info.value)


def test_cli_webroot_replaces_ini_webroot(env: dict[str, str], tmp_path: Path) -> None:
    ini = write_ini(tmp_path / "w.ini", "webroot-path = /srv/ini\ndomains = a.test\n")
    assert run(["-c", str(ini)], env).get("webroot_map") == {"a.test": "/srv/ini"}
    c = run(["-c", str(ini), "-w", "/srv/cli", "-d", "b.test"], env)
    assert c.get("webroot_map") == {"b.test": "/srv/cli"} and c.domains == ["b.test"]


def test_renewal_conf_layer(env: dict[str, str]) -> None:
    c = run(["renew", "--rsa-key-size", "3072", "--probe-port", "1"], env)
    params = {
        "authenticator": "webroot", "rsa_key_size": "4096", "key_type": "rsa",
        "server": "https://127.0.0.1:14000/dir", "webroot_path": ["/srv/a", "/srv/b"],
        "webroot_map": {"a.test": "/srv/a"}, "renew_hook": "systemctl reload nginx",
        "pref_challs": "http-01,", "probe_port": "5", "must_staple": "True",
        "http01_port": "8080", "manual_public_ip_logging_ok": "None", "unknown_key": "x",
    }
    r = c.with_renewal_conf(params, "/etc/letsencrypt/renewal/a.test.conf")
    assert r.rsa_key_size == 3072 and r.source("rsa_key_size") == "command line"
    assert r.get("probe_port") == 1
    assert r.authenticator == "webroot"
    assert r.source("authenticator") == "renewal conf /etc/letsencrypt/renewal/a.test.conf"
    assert r.server == "https://127.0.0.1:14000/dir"
    assert r.get("webroot_path") == ["/srv/a", "/srv/b"]
    assert r.get("webroot_map") == {"a.test": "/srv/a"}
    assert r.deploy_hook == "systemctl reload nginx"
    assert r.pref_challs == ["http-01"] and r.must_staple is True and r.http01_port == 8080
    assert r.explicit == c.explicit  # renewal values are not re-saved as user choices
    with pytest.raises(ConfigurationError, match="a.test.conf"):
        c.with_renewal_conf({"http01_port": "eighty"}, "/etc/letsencrypt/renewal/a.test.conf")


def test_lock_timeout_is_read_once_into_the_config(env: dict[str, str]) -> None:
    assert run(["renew"], env).lock_timeout == 60.0
    assert run(["renew"], {**env, "CERTKERNEL_LOCK_TIMEOUT": "2.5"}).lock_timeout == 2.5
    assert run(["renew"], {**env, "CERTKERNEL_LOCK_TIMEOUT": "-3"}).lock_timeout == 0.0
    with pytest.raises(ConfigurationError, match=r"CERTKERNEL_LOCK_TIMEOUT='soon' is not a number"):
        run(["renew"], {**env, "CERTKERNEL_LOCK_TIMEOUT": "soon"})
