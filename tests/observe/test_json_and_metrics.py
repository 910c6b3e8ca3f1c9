"""``--json`` outputs against their committed JSON Schemas, and the metrics file
against the lineages on disk.

Real runs: two lineages issued by Pebble with --standalone, renewed (one
forced to fail: its conf is switched to the manual authenticator, which
cannot run without hooks under -n), then the JSON and the node-exporter textfile are compared with
the certificates' own dates.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from cryptography import x509

from tests.infra.cli_run import Dirs

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "docs" / "schemas"
CERTKERNEL = str(Path(sys.executable).with_name("certkernel"))


def ck(dirs: Dirs, *args: str, pebble=None, ok: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [CERTKERNEL, *args, *dirs.args(), "-n"]
    if args[0] == "renew":
        argv.append("--no-random-sleep-on-renew")
        if pebble is not None:
            argv += ["--http-01-port", str(pebble.http01_port), "--http-01-address", "127.0.0.1"]
    if pebble is not None:
        argv += ["--server", pebble.directory_url, "--ca-bundle", pebble.ca_bundle]
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=240, env=env,
                          stdin=subprocess.DEVNULL, check=False)
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def validate(doc: dict, schema: str) -> None:
    spec = json.loads((SCHEMAS / f"{schema}.json").read_text())
    jsonschema.validate(doc, spec, format_checker=jsonschema.FormatChecker())
    assert doc["schema"] == spec["$id"]


def metrics(path: Path) -> dict[tuple[str, str | None], float]:
    found = {}
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r'^([a-z_]+)(?:\{name="([^"]*)"\})? (\S+)$', line)
        assert match, f"not a textfile sample: {line!r}"
        found[(match.group(1), match.group(2))] = float(match.group(3))
    return found


def not_after(dirs: Dirs, name: str) -> datetime.datetime:
    cert = x509.load_pem_x509_certificate((dirs.config / "live" / name / "cert.pem").read_bytes())
    return cert.not_valid_after_utc


@pytest.fixture(scope="module")
def two_lineages(pebble, tmp_path_factory):
    dirs = Dirs.under(tmp_path_factory.mktemp("observe"))
    for name in ("obs-a.example", "obs-b.example"):
        ck(dirs, "certonly", "--standalone", "-d", name, "--agree-tos", "-m", "o@example.org",
           "--http-01-port", str(pebble.http01_port), "--http-01-address", "127.0.0.1",
           pebble=pebble)
    return dirs


def test_schemas_are_valid_json_schemas():
    for path in SCHEMAS.glob("*.json"):
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_schema_check_rejects_a_wrong_document():
    with pytest.raises(jsonschema.ValidationError):
        validate({"schema": "certkernel.renew/1", "dry_run": False, "lineages": [
            {"name": "x", "outcome": "maybe", "fullchain_path": "/x", "expiry": None,
             "error": None}], "invalid": [], "totals": {}}, "renew")


def test_certificates_json_and_metrics(two_lineages, pebble):
    dirs = two_lineages
    doc = json.loads(ck(dirs, "certificates", "--json").stdout)
    validate(doc, "certificates")
    assert sorted(c["name"] for c in doc["certificates"]) == ["obs-a.example", "obs-b.example"]
    m = metrics(dirs.work / "certkernel.prom")  # the default path
    for name in ("obs-a.example", "obs-b.example"):
        assert m[("certkernel_certificate_expiry_timestamp_seconds", name)] == \
            not_after(dirs, name).timestamp()
    assert m[("certkernel_renewal_configs_invalid", None)] == 0


def test_renew_json_not_due_then_renewed_then_failed(two_lineages, pebble, tmp_path):
    dirs = two_lineages
    prom = tmp_path / "textfile" / "certkernel.prom"
    # 1. nothing due: each lineage not_due with its expiry date; no attempt recorded
    doc = json.loads(ck(dirs, "renew", "--json", "--metrics-file", str(prom), pebble=pebble).stdout)
    validate(doc, "renew")
    assert {e["name"]: e["outcome"] for e in doc["lineages"]} == {
        "obs-a.example": "not_due", "obs-b.example": "not_due"}
    for entry in doc["lineages"]:
        expiry = datetime.datetime.fromisoformat(entry["expiry"].replace("Z", "+00:00"))
        assert expiry == not_after(dirs, entry["name"])
    assert doc["totals"] == {"renewed": 0, "not_due": 2, "failed": 0, "disabled": 0, "invalid": 0}
    m = metrics(prom)
    assert ("certkernel_renewal_last_attempt_timestamp_seconds", "obs-a.example") not in m

    # 2. forced: both renewed; attempt and success recorded, expiry is the new cert's
    started = datetime.datetime.now(datetime.UTC).timestamp()
    doc = json.loads(ck(dirs, "renew", "--json", "--force-renewal", "--metrics-file", str(prom),
                        pebble=pebble).stdout)
    validate(doc, "renew")
    assert doc["totals"]["renewed"] == 2 and doc["totals"]["failed"] == 0
    m = metrics(prom)
    for name in ("obs-a.example", "obs-b.example"):
        attempt = m[("certkernel_renewal_last_attempt_timestamp_seconds", name)]
        assert started - 1 <= attempt <= datetime.datetime.now(datetime.UTC).timestamp() + 1
        assert m[("certkernel_renewal_last_success_timestamp_seconds", name)] == attempt
        assert m[("certkernel_renewal_last_attempt_succeeded", name)] == 1
        assert m[("certkernel_certificate_expiry_timestamp_seconds", name)] == \
            not_after(dirs, name).timestamp()
    first_success = m[("certkernel_renewal_last_success_timestamp_seconds", "obs-b.example")]

    # 3. b's conf now names the manual authenticator, without hooks under -n: b fails
    conf = dirs.config / "renewal" / "obs-b.example.conf"
    text = conf.read_text()
    assert re.search(r"(?m)^authenticator = standalone$", text)
    conf.write_text(re.sub(r"(?m)^authenticator = standalone$", "authenticator = manual", text))
    proc = ck(dirs, "renew", "--json", "--force-renewal", "--metrics-file", str(prom),
              pebble=pebble, ok=False)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    validate(doc, "renew")
    by_name = {e["name"]: e for e in doc["lineages"]}
    assert by_name["obs-a.example"]["outcome"] == "renewed"
    assert by_name["obs-b.example"]["outcome"] == "failed"
    assert by_name["obs-b.example"]["error"]
    assert doc["totals"]["failed"] == 1 and doc["totals"]["renewed"] == 1
    m = metrics(prom)
    assert m[("certkernel_renewal_last_attempt_succeeded", "obs-b.example")] == 0
    assert m[("certkernel_renewal_last_success_timestamp_seconds", "obs-b.example")] == \
        first_success  # the earlier success is kept
    assert m[("certkernel_renewal_last_attempt_timestamp_seconds", "obs-b.example")] > \
        first_success - 1


def test_plugins_json_lists_every_manifest(tmp_path):
    dirs = Dirs.under(tmp_path)
    doc = json.loads(ck(dirs, "plugins", "--json").stdout)
    validate(doc, "plugins")
    names = sorted(p["name"] for p in doc["plugins"])
    import tomllib
    assert names == sorted(tomllib.loads(p.read_text())["name"]
                           for p in (REPO / "plugins").rglob("plugin.toml"))


def test_show_account_json(two_lineages, pebble):
    doc = json.loads(ck(two_lineages, "show_account", "--json", pebble=pebble).stdout)
    validate(doc, "account")
    assert doc["emails"] == ["o@example.org"]
    assert doc["account_url"].startswith("https://127.0.0.1:")
    assert doc["server"] == pebble.directory_url


def test_failed_renew_text_names_the_log(two_lineages, pebble):
    proc = ck(two_lineages, "renew", "--force-renewal", pebble=pebble, ok=False)
    if proc.returncode == 0:
        pytest.fail("expected obs-b.example to fail (its conf was broken by the test above)")
    assert f"See the logfile {two_lineages.logs / 'letsencrypt.log'} for details." in proc.stderr


def test_failed_command_names_the_log_on_its_error_line(pebble, tmp_path):
    """A failure that is not bad input ends with where the details are; bad input does not."""
    import socket

    dirs = Dirs.under(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = ck(dirs, "certonly", "--standalone", "-d", "busy.example", "--agree-tos",
                  "--register-unsafely-without-email", "--http-01-port", str(port),
                  "--http-01-address", "127.0.0.1", pebble=pebble, ok=False)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("Could not bind") and last.endswith(
        f"(details in {dirs.logs / 'letsencrypt.log'})"), proc.stderr
    bad = ck(dirs, "rollback", "--checkpoints=-1", ok=False)
    assert bad.stderr.strip() == "--checkpoints must be 0 or more, not -1"


def test_metrics_ari_window_start_follows_ari_json(two_lineages, tmp_path):
    """The CA's window (as renew stores it in archive/<name>/ari.json) is exported; a new
    ari.json is picked up although the lineage's conf and cert did not change."""
    from certkernel.ca.ari import cert_digest

    dirs = two_lineages
    prom = tmp_path / "ari.prom"
    ck(dirs, "certificates", "--metrics-file", str(prom))
    assert ("certkernel_certificate_ari_window_start_timestamp_seconds",
            "obs-a.example") not in metrics(prom)
    cert = (dirs.config / "live" / "obs-a.example" / "cert.pem").read_bytes()
    start = datetime.datetime(2031, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    end = start + datetime.timedelta(days=2)
    (dirs.config / "archive" / "obs-a.example" / "ari.json").write_text(json.dumps({
        "version": 1, "cert_sha256": cert_digest(cert), "cert_id": None,
        "server": "https://ca.invalid/dir", "renewal_info_url": "https://ca.invalid/ari/x",
        "fetched": "2026-01-01T00:00:00Z", "next_check": "2099-01-01T00:00:00Z",
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "explanation_url": None, "renew_at": None}))
    ck(dirs, "certificates", "--metrics-file", str(prom))
    m = metrics(prom)
    assert m[("certkernel_certificate_ari_window_start_timestamp_seconds", "obs-a.example")] == \
        start.timestamp()
    assert ("certkernel_certificate_ari_window_start_timestamp_seconds",
            "obs-b.example") not in m
