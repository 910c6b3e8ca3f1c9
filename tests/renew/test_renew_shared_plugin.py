"""``renew`` serves every due webroot lineage from one plugin process, each from its own root.

Each lineage saves its own ``[[webroot_map]]``. The webroot manifest
declares ``[needs] per_domain_from_challenge`` (PROTOCOL.md §8), so the
kernel keys the process without those maps and sends each challenge's web
root with the challenge. Here three lineages have three web roots (root-owned,
so the shared process is confined by Landlock to all three), and two of them
share a name: a real Pebble validates every name from the one folder its
lineage gave, through a web server that answers each name only from the
folders of the lineages that have it and records which folder answered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tests.infra.httpd import Served as Answer
from tests.infra.httpd import virtual_hosts
from tests.infra.pebble import Pebble
from tests.renew.conftest import Served
from tests.renew.renew_env import Host

PLUGINS = Path(__file__).resolve().parent / "plugins"


def started(host: Host, plugin: str) -> int:
    """How many processes of ``plugin`` the last run started, from its log."""
    log = (host.base / "logs" / "letsencrypt.log").read_text()
    return len(re.findall(rf"Started plugin {plugin} \(pid \d+\)", log))


def tokens_by_folder(answers: list[Answer], name: str) -> dict[Path, int]:
    found: dict[Path, set[str]] = {}
    for answer in answers:
        if answer.host == name:
            found.setdefault(answer.folder, set()).add(answer.name)
    return {folder: len(tokens) for folder, tokens in found.items()}


def test_due_lineages_with_different_web_roots_share_one_webroot_process(
        pebble_factory: Callable[..., Pebble], tmp_path: Path) -> None:
    pebble = pebble_factory()
    a, b, c = (tmp_path / f"www-{x}" for x in "abc")
    host = Host(Served(pebble, a), tmp_path / "host")
    lineages = {"one.example": (a, ["one.example", "same.example"]),
                "two.example": (b, ["two.example", "same.example"]),
                "three.example": (c, ["three.example"])}
    sites: dict[str, Path | list[Path]] = {
        "one.example": a, "two.example": b, "three.example": c, "same.example": [a, b]}
    with virtual_hosts(pebble.http01_port, sites) as answers:
        for root, names in lineages.values():
            done = host.run("certonly", "-a", "webroot", "-w", str(root),
                            *[arg for n in names for arg in ("-d", n)],
                            "--server", pebble.directory_url, "--ca-bundle", pebble.ca_bundle,
                            "--agree-tos", "-m", "shared@example.org")
            assert done.returncode == 0, done.stderr
        for name in lineages:
            host.make_due(name)
        # What the orders above proved must not stand in for the renewal's
        # own proof (Pebble would reuse it now and then).
        host.forget_authorizations()
        answers.clear()

        renewed = host.renew()

    assert renewed.returncode == 0, renewed.stderr
    assert {name: host.version(name) for name in lineages} == dict.fromkeys(lineages, 2)
    assert started(host, "webroot") == 1
    # Every name was validated from its own lineage's root: same.example once
    # from a (one.example's order) and once from b (two.example's), never
    # both from one folder.
    assert tokens_by_folder(answers, "same.example") == {a: 1, b: 1}
    assert {n: tokens_by_folder(answers, n) for n in ("one.example", "two.example",
                                                      "three.example")} == \
        {"one.example": {a: 1}, "two.example": {b: 1}, "three.example": {c: 1}}
    # And cleanup removed each file (and the folders it made) from where it was put.
    assert [sorted(r.rglob("*")) for r in (a, b, c)] == [[], [], []]


def test_a_shared_process_that_dies_is_started_again_once_and_cleans_up_every_lineage(
        pebble_factory: Callable[..., Pebble], tmp_path: Path) -> None:
    # dropcrash (tests/renew/plugins) shares one process between lineages and
    # dies in perform when a challenge's folder holds CRASH. One lineage at a
    # time, so the run is the same whichever lineage comes first.
    pebble = pebble_factory()
    a, b = tmp_path / "site-a", tmp_path / "site-b"
    host = Host(Served(pebble, a), tmp_path / "host")
    env = {"CERTKERNEL_PLUGIN_PATH": str(PLUGINS), "CERTKERNEL_RENEW_WORKERS": "1"}
    events = host.base / "work" / "plugins" / "dropcrash" / "events.log"
    with virtual_hosts(pebble.http01_port, {"one.example": a, "two.example": b}):
        for site, name in ((a, "one.example"), (b, "two.example")):
            done = host.run("certonly", "-a", "dropcrash", "--dropcrash-site", str(site),
                            "-d", name, "--server", pebble.directory_url,
                            "--ca-bundle", pebble.ca_bundle, "--agree-tos",
                            "-m", "crash@example.org", env=env)
            assert done.returncode == 0, done.stderr
            host.make_due(name)
        host.forget_authorizations()  # each name is performed again
        (a / "CRASH").write_text("")
        events.unlink()

        renewed = host.renew(env=env)

    assert renewed.returncode == 1, renewed.stderr
    assert (host.version("one.example"), host.version("two.example")) == (1, 2)
    assert started(host, "dropcrash") == 2  # the shared one, and one after it died
    done = [line.split() for line in events.read_text().splitlines()]
    (crashed,) = {pid for pid, what, name in done if (what, name) == ("perform", "one.example")}
    cleaned = {pid for pid, what, name in done if (what, name) == ("cleanup", "one.example")}
    assert cleaned and crashed not in cleaned
    assert [sorted((x / ".well-known" / "acme-challenge").iterdir()) for x in (a, b)] == [[], []]


def test_the_lineage_that_starts_the_shared_process_lends_it_no_web_root(
        host: Host, tmp_path: Path) -> None:
    # The first lineage (one at a time, in name order) has lost its web root.
    # The shared process is started without any lineage's web roots in its
    # options, so its prepare cannot fail for that one lineage's folder: the
    # broken lineage fails on its own challenge, the other one renews.
    host.issue("a-broken.example.com")
    host.issue("b-works.example.com")
    gone = tmp_path / "gone"
    conf = host.conf_path("a-broken.example.com")
    conf.write_text(conf.read_text().replace(str(host.served.webroot), str(gone)))

    result = host.renew("--force-renewal", env={"CERTKERNEL_RENEW_WORKERS": "1"})

    assert result.returncode == 1
    assert (host.version("a-broken.example.com"), host.version("b-works.example.com")) == (1, 2)
    assert f"The webroot path {gone} does not exist" in result.stderr
    assert started(host, "webroot") == 1
