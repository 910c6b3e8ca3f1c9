"""The renewal cache: a hit is exactly what the files say, any change is a miss.

Lineages are real (``Lineage.create`` with certificates from a throwaway CA);
the cache is the real module. Each change a user, Certbot or a crashed run
could make to a lineage must make ``lookup`` fall back to the files, and
``make_plan`` must decide the same with a warm cache, a corrupt one, or none.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import time
from pathlib import Path

import pytest

from certkernel.cmdline.cli import parse
from certkernel.config import Config
from certkernel.lineages.storage import Lineage
from certkernel.plugin_host.discovery import discover_all
from certkernel.renewal.renewal_cache import RACY_NS, RenewalCache, cache_path
from certkernel.renewal.renewal_plan import Plan, make_plan
from tests.infra.minica import MiniCA
from tests.renew.renew_env import Host

SETTLE = RACY_NS / 1e9 + 0.2


@pytest.fixture(scope="module")
def ca() -> MiniCA:
    return MiniCA()


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"https://127.0.0.1:{port}/dir"


def _make(ca: MiniCA, config_dir: Path, name: str, *, days: int = 90, age_days: int = 1,
          server: str | None = None, rbe: str | None = None) -> Lineage:
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=age_days)
    certs = ca.issue([name], days=days, start=start)
    params = {"authenticator": "webroot", "server": server or _closed_port_url()}
    return Lineage.create(str(config_dir), name, certs.cert, certs.chain, certs.fullchain,
                          certs.key, params, renew_before_expiry=rbe)


def _settle() -> None:
    """Let the racy window pass so freshly written files may be cached."""
    time.sleep(SETTLE)


def _warm(config_dir: Path, conf: str) -> RenewalCache:
    cache = RenewalCache(str(config_dir))
    cache.load(conf)
    cache.save()
    return RenewalCache.open(str(config_dir))


def _conf(config_dir: Path, name: str) -> str:
    return str(config_dir / "renewal" / f"{name}.conf")


def test_hit_rebuilds_the_lineage_from_conf(ca: MiniCA, tmp_path: Path) -> None:
    made = _make(ca, tmp_path, "a.example.com", rbe="12 days")
    _settle()
    cache = _warm(tmp_path, _conf(tmp_path, "a.example.com"))
    hit = cache.lookup(_conf(tmp_path, "a.example.com"))
    assert hit is not None
    cached, extra = hit
    fresh = Lineage.from_conf(str(tmp_path), _conf(tmp_path, "a.example.com"))
    assert extra is None
    assert cached.conf == fresh.conf
    assert cached.version == fresh.version == made.version
    assert cached.validity() == fresh.validity()
    assert cached.fullchain_path == fresh.fullchain_path
    assert cached.conf.renew_before_expiry_interval() == datetime.timedelta(days=12)
    mode = os.stat(cache_path(str(tmp_path))).st_mode & 0o777
    assert mode == 0o600


def test_nothing_is_cached_while_files_are_fresh(ca: MiniCA, tmp_path: Path) -> None:
    _make(ca, tmp_path, "a.example.com")
    cache = _warm(tmp_path, _conf(tmp_path, "a.example.com"))
    assert cache.lookup(_conf(tmp_path, "a.example.com")) is None


def _same_size_edit(path: str) -> None:
    text = Path(path).read_text()
    assert "authenticator = webroot" in text
    with open(path, "r+") as handle:  # in place: same inode, same size
        handle.write(text.replace("authenticator = webroot", "authenticator = webro0t"))


def _relink_cert(lineage: Lineage) -> None:
    link = lineage.link_path("cert")
    os.unlink(link)
    os.symlink(os.readlink(lineage.link_path("chain")).replace("chain", "cert"), link)


def _rewrite_cert(ca: MiniCA, lineage: Lineage) -> None:
    other = ca.issue(["a.example.com"], days=5)
    with open(lineage.archive_path("cert"), "wb") as handle:  # in place
        handle.write(other.cert)


CHANGES = {
    "conf edited in place, same size": lambda ca, lin: _same_size_edit(lin.renewal_conf_path),
    "conf touched": lambda ca, lin: os.utime(lin.renewal_conf_path),
    "cert link recreated": lambda ca, lin: _relink_cert(lin),
    "cert file rewritten in place": _rewrite_cert,
    "archive file removed": lambda ca, lin: os.unlink(lin.archive_path("chain")),
    "ari.json written": lambda ca, lin: Path(lin.archive_dir, "ari.json").write_text("{}"),
    "conf removed": lambda ca, lin: os.unlink(lin.renewal_conf_path),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_any_change_is_a_miss(ca: MiniCA, tmp_path: Path, change: str) -> None:
    lineage = _make(ca, tmp_path, "a.example.com")
    _settle()
    cache = _warm(tmp_path, _conf(tmp_path, "a.example.com"))
    assert cache.lookup(_conf(tmp_path, "a.example.com")) is not None
    CHANGES[change](ca, lineage)
    assert cache.lookup(_conf(tmp_path, "a.example.com")) is None


def _valid_then_damaged(ca: MiniCA, tmp_path: Path, damage: bytes | None) -> RenewalCache:
    _make(ca, tmp_path, "a.example.com")
    _settle()
    _warm(tmp_path, _conf(tmp_path, "a.example.com"))
    path = Path(cache_path(str(tmp_path)))
    data = path.read_bytes()
    if damage is None:  # flip one byte inside the payload
        cut = len(data) - 20
        data = data[:cut] + bytes([data[cut] ^ 0x01]) + data[cut + 1:]
    else:
        data = damage
    path.write_bytes(data)
    return RenewalCache.open(str(tmp_path))


@pytest.mark.parametrize("damage", [None, b"", b"\x00\xff junk", b"certkernel-renewal-cache 2 0\n{}",
                                    b"certkernel-renewal-cache 99 x\n[]"])
def test_a_corrupt_cache_is_ignored(ca: MiniCA, tmp_path: Path, damage: bytes | None) -> None:
    cache = _valid_then_damaged(ca, tmp_path, damage)
    assert cache.lookup(_conf(tmp_path, "a.example.com")) is None


def test_a_well_formed_but_malformed_entry_is_a_miss(ca: MiniCA, tmp_path: Path) -> None:
    from certkernel.renewal.renewal_cache import _header

    _make(ca, tmp_path, "a.example.com")
    _settle()
    _warm(tmp_path, _conf(tmp_path, "a.example.com"))
    path = Path(cache_path(str(tmp_path)))
    key = json.dumps(_conf(tmp_path, "a.example.com")).encode()
    assert list(_stored(tmp_path)) == [_conf(tmp_path, "a.example.com")]
    for junk in (b"[]", b"[1,2]", b'{"x":1}', b"[null,null,null,null,null,null,null,null]", b"[",
                 b"\xff"):
        payload = key + b"\t" + junk + b"\n"
        path.write_bytes(_header(payload) + b"\n" + payload)
        assert RenewalCache.open(str(tmp_path)).lookup(_conf(tmp_path, "a.example.com")) is None


def _stored(config_dir: Path) -> dict[str, bytes]:
    """The entries of the cache file, read the way the format is documented."""
    lines = Path(cache_path(str(config_dir))).read_bytes().split(b"\n")[1:]
    parts = [line.split(b"\t", 1) for line in lines if line]
    return {json.loads(key): entry for key, entry in parts}


# -- the plan decides the same with and without the cache ----------------------

def _config(config_dir: Path, *extra: str) -> Config:
    env = {"HOME": str(config_dir.parent), "PATH": os.environ.get("PATH", "")}
    argv = ["renew", "-n", "--config-dir", str(config_dir),
            "--work-dir", str(config_dir.parent / "work"),
            "--logs-dir", str(config_dir.parent / "logs"), *extra]
    config = parse(argv, discover_all(env=env).manifests, env)
    assert isinstance(config, Config)
    return config


def _summary(plan: Plan) -> dict[str, object]:
    return {
        "due": sorted(lin.name for lin in plan.due),
        "reasons": dict(sorted(plan.reasons.items())),
        "not_due": sorted((n.name, n.fullchain_path, n.expiry) for n in plan.not_due),
        "disabled": sorted((n.name, n.fullchain_path, n.expiry) for n in plan.disabled),
        "broken": sorted(p for p, _m in plan.broken),
    }


def _host(ca: MiniCA, config_dir: Path) -> None:
    _make(ca, config_dir, "idle.example.com")
    _make(ca, config_dir, "short.example.com", days=9, age_days=5)  # past half its life
    _make(ca, config_dir, "rbe.example.com", rbe="100 days")  # 89 days left: due
    _make(ca, config_dir, "rbe-not.example.com", rbe="10 days")
    off = _make(ca, config_dir, "off.example.com", days=9, age_days=8)
    conf = Path(off.renewal_conf_path)
    conf.write_text(conf.read_text().replace("[renewalparams]", "[renewalparams]\nautorenew = False"))
    broken = config_dir / "renewal" / "broken.example.com.conf"
    broken.write_text("cert = /nowhere\n")


def test_plan_is_the_same_warm_cold_and_corrupt(ca: MiniCA, tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    _host(ca, etc)
    config = _config(etc)
    first = _summary(make_plan(config))  # ARI lookups fail (closed port): files written
    _settle()
    recording = _summary(make_plan(config))
    warm = _summary(make_plan(config))
    assert first == recording == warm
    assert warm["due"] == ["rbe.example.com", "short.example.com"]
    assert [n for n, *_ in warm["not_due"]] == ["idle.example.com", "rbe-not.example.com"]  # type: ignore[attr-defined]
    assert [n for n, *_ in warm["disabled"]] == ["off.example.com"]  # type: ignore[attr-defined]
    assert warm["broken"] == [str(etc / "renewal" / "broken.example.com.conf")]
    assert sorted(_stored(etc)) == sorted(
        str(etc / "renewal" / f"{n}.conf")
        for n in ("idle.example.com", "short.example.com", "rbe.example.com",
                  "rbe-not.example.com", "off.example.com"))
    Path(cache_path(str(etc))).write_bytes(b"garbage")
    assert _summary(make_plan(config)) == warm
    os.unlink(cache_path(str(etc)))
    assert _summary(make_plan(config)) == warm


def test_plan_sees_a_conf_change_behind_a_warm_cache(ca: MiniCA, tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    lineage = _make(ca, etc, "idle.example.com")
    config = _config(etc)
    make_plan(config)
    _settle()
    make_plan(config)
    assert [n.name for n in make_plan(config).not_due] == ["idle.example.com"]
    conf = Path(lineage.renewal_conf_path)
    conf.write_text(conf.read_text().replace("# renew_before_expiry = 30 days",
                                             "renew_before_expiry = 89 days"))
    plan = make_plan(config)
    assert [lin.name for lin in plan.due] == ["idle.example.com"]
    assert plan.due[0].conf.renew_before_expiry == "89 days"


def test_plan_sees_a_new_cert_behind_a_warm_cache(ca: MiniCA, tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    lineage = _make(ca, etc, "idle.example.com")
    config = _config(etc)
    make_plan(config)
    _settle()
    make_plan(config)
    assert make_plan(config).due == []
    old = ca.issue(["idle.example.com"], days=9, start=datetime.datetime.now(datetime.UTC)
                   - datetime.timedelta(days=8))
    lineage.save_new_version(old.cert, old.chain, old.fullchain, old.key)
    plan = make_plan(config)
    assert [(lin.name, lin.version) for lin in plan.due] == [("idle.example.com", 2)]


def test_forced_and_dry_runs_take_everything_despite_the_cache(ca: MiniCA, tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    _make(ca, etc, "idle.example.com")
    make_plan(_config(etc))
    _settle()
    make_plan(_config(etc))
    assert make_plan(_config(etc)).due == []
    assert [lin.name for lin in make_plan(_config(etc, "--force-renewal")).due] == [
        "idle.example.com"]
    assert [lin.name for lin in make_plan(_config(etc, "--dry-run")).due] == ["idle.example.com"]


def test_cli_renew_with_a_warm_cache_still_renews_what_became_due(host: Host) -> None:
    host.issue("cached.example.com")
    host.issue("other.example.com")
    first = host.renew()
    _settle()
    host.renew()  # records every lineage (the first run may have written ari.json)
    warm = host.renew()
    assert first.returncode == warm.returncode == 0, warm.stderr
    assert warm.stdout == first.stdout
    assert "cached.example.com/fullchain.pem expires on" in warm.stdout
    assert os.stat(cache_path(str(host.config_dir))).st_mode & 0o777 == 0o600
    host.make_due("cached.example.com")
    due = host.renew()
    assert due.returncode == 0, due.stderr
    assert host.version("cached.example.com") == 2
    assert host.version("other.example.com") == 1
    assert "other.example.com/fullchain.pem expires on" in due.stdout


def test_odd_characters_in_paths_round_trip(ca: MiniCA, tmp_path: Path) -> None:
    etc = tmp_path / "odd\tdir\nnamé"
    _make(ca, etc, "a.example.com")
    _settle()
    cache = _warm(etc, _conf(etc, "a.example.com"))
    hit = cache.lookup(_conf(etc, "a.example.com"))
    assert hit is not None
    assert hit[0].fullchain_path == str(etc / "live" / "a.example.com" / "fullchain.pem")


# -- the quick verdict: "not due" is reused only until it could change -------

def _warm_plan(etc: Path) -> Config:
    config = _config(etc)
    make_plan(config)  # ARI lookup fails (closed port): ari.json written
    _settle()
    make_plan(config)  # records
    return config


@pytest.mark.parametrize("rbe", [None, "20 days"])
def test_warm_verdict_expires_with_the_expiry_rule(ca: MiniCA, tmp_path: Path,
                                                   rbe: str | None) -> None:
    etc = tmp_path / "etc"
    lineage = _make(ca, etc, "idle.example.com", days=90, age_days=1, rbe=rbe)
    config = _warm_plan(etc)
    not_after = lineage.not_after
    threshold = not_after - (datetime.timedelta(days=20) if rbe else datetime.timedelta(days=30))
    before = threshold - datetime.timedelta(seconds=1)
    # Past the ARI back-off the entry is refreshed (closed port again): still decided right.
    assert make_plan(config, before).due == []
    assert [lin.name for lin in make_plan(config, threshold).due] == ["idle.example.com"]
    assert [lin.name for lin in make_plan(config, not_after).due] == ["idle.example.com"]


def test_warm_verdict_expires_at_the_ca_window(ca: MiniCA, tmp_path: Path) -> None:
    from certkernel.ca import ari

    etc = tmp_path / "etc"
    lineage = _make(ca, etc, "idle.example.com", days=90, age_days=1)
    now = datetime.datetime.now(datetime.UTC)
    start = now + datetime.timedelta(days=3)
    window = ari.Window(start, start + datetime.timedelta(days=2))
    state = ari.AriState(ari.cert_digest(lineage.read("cert")), "https://127.0.0.1:1/dir",
                         "https://127.0.0.1:1/ari", now, now + datetime.timedelta(days=30),
                         window=window)
    ari.save(lineage, state)
    config = _config(etc)
    _settle()
    make_plan(config)
    assert make_plan(config, now).due == []
    renew_at = state.renew_at()
    assert renew_at is not None
    assert make_plan(config, start - datetime.timedelta(seconds=1)).due == []
    assert [lin.name for lin in make_plan(config, renew_at).due] == ["idle.example.com"]


def test_not_due_before_holds_against_is_due(ca: MiniCA, tmp_path: Path) -> None:
    """For sampled lineages and ARI states, is_due is false at every time before the horizon."""
    import random

    from certkernel.ca import ari
    from certkernel.renewal.renewal_plan import is_due, not_due_before

    rng = random.Random(7)
    etc = tmp_path / "etc"
    now = datetime.datetime.now(datetime.UTC)
    for n in range(12):
        days = rng.choice([5, 9, 30, 90])
        rbe = rng.choice([None, "1 day", "10 days", "60 days"])
        lineage = _make(ca, etc, f"l{n}.example.com", days=days, age_days=rng.randint(0, 3), rbe=rbe)
        start = now + datetime.timedelta(hours=rng.randint(-48, 24 * 40))
        window = rng.choice([None, ari.Window(start, start + datetime.timedelta(
            hours=rng.randint(0, 24 * 5)))])
        state = ari.AriState(ari.cert_digest(lineage.read("cert")), "s", "u", now,
                             now + datetime.timedelta(hours=rng.randint(1, 24 * 30)),
                             window=window)
        decision = ari.Decision(state)
        horizon = not_due_before(lineage, decision)
        assert horizon is not None
        probes = [now + (horizon - now) * k / 50 for k in range(50)] if horizon > now else []
        for when in probes:
            assert not is_due(lineage, when, decision)[0], (n, when, horizon)
            assert not decision.stale(when)
        assert not_due_before(lineage, ari.Decision(None)) is None
