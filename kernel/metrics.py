"""The Prometheus node-exporter textfile: expiry and renewal state per lineage.

Let's Encrypt no longer e-mails before a certificate expires, so alerting is
the user's; this file is what node-exporter's textfile collector reads.  It is
rewritten atomically (temp file + rename, 0644) after every ``renew`` and
``certificates``, so the collector never reads half a file.

The last attempt and last success of a lineage outlive the run that set them:
the previous file is read back, and a lineage not attempted this run keeps its
values.  Lineages that no longer exist drop out.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from certkernel import errors, fsutil
from certkernel.ca import ari
from certkernel.lineages.storage import Lineage, conf_paths

logger = logging.getLogger(__name__)

DEFAULT_NAME = "certkernel.prom"
EXPIRY = "certkernel_certificate_expiry_timestamp_seconds"
NOT_BEFORE = "certkernel_certificate_not_before_timestamp_seconds"
ARI_START = "certkernel_certificate_ari_window_start_timestamp_seconds"
ATTEMPT = "certkernel_renewal_last_attempt_timestamp_seconds"
SUCCESS = "certkernel_renewal_last_success_timestamp_seconds"
LAST_OK = "certkernel_renewal_last_attempt_succeeded"
INVALID = "certkernel_renewal_configs_invalid"
WRITTEN = "certkernel_metrics_written_timestamp_seconds"

HELP = {
    EXPIRY: "notAfter of the lineage's current certificate (Unix time).",
    NOT_BEFORE: "notBefore of the lineage's current certificate (Unix time).",
    ARI_START: "Start of the renewal window the CA suggested via ARI (Unix time).",
    ATTEMPT: "When renew last tried to renew this lineage (Unix time).",
    SUCCESS: "When renew last renewed this lineage successfully (Unix time).",
    LAST_OK: "1 if the last renewal attempt succeeded, 0 if it failed.",
    INVALID: "Renewal configuration files that could not be read.",
    WRITTEN: "When certkernel wrote this file (Unix time).",
}
_SAMPLE = re.compile(r'^([a-z_]+)\{name="((?:[^"\\]|\\.)*)"\} (\S+)$')


@dataclass(frozen=True)
class LineageFacts:
    """What the file says about one lineage right now."""

    name: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    ari_window_start: datetime.datetime | None = None


def path_for(metrics_file: str | None, work_dir: str) -> str | None:
    """The file to write: the flag's value, the default under --work-dir, or None when off."""
    if metrics_file == "":
        return None
    return metrics_file or os.path.join(work_dir, DEFAULT_NAME)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def read_previous(path: str) -> dict[str, dict[str, float]]:
    """metric -> lineage name -> value, from the file we wrote last time (empty if none)."""
    found: dict[str, dict[str, float]] = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return found
    carried = (ATTEMPT + "{", SUCCESS + "{", LAST_OK + "{")
    for line in lines:
        if not line.startswith(carried):
            continue  # only the per-run history is carried over; the rest is recomputed
        match = _SAMPLE.match(line)
        if match is None:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        found.setdefault(match.group(1), {})[_unescape(match.group(2))] = value
    return found


def _ts(when: datetime.datetime) -> str:
    return f"{when.timestamp():.0f}"


def render(facts: Iterable[LineageFacts], invalid: int,
           previous: Mapping[str, Mapping[str, float]],
           attempts: Mapping[str, bool], now: float) -> str:
    """The file's text; ``attempts`` maps a lineage tried this run to whether it succeeded."""
    facts = sorted(facts, key=lambda f: f.name)
    names = {f.name for f in facts}
    series: dict[str, dict[str, str]] = {m: {} for m in HELP}
    for fact in facts:
        series[EXPIRY][fact.name] = _ts(fact.not_after)
        series[NOT_BEFORE][fact.name] = _ts(fact.not_before)
        if fact.ari_window_start is not None:
            series[ARI_START][fact.name] = _ts(fact.ari_window_start)
    for metric in (ATTEMPT, SUCCESS, LAST_OK):
        for name, value in previous.get(metric, {}).items():
            if name in names:
                series[metric][name] = f"{value:.0f}"
    for name, succeeded in attempts.items():
        if name not in names:
            continue
        series[ATTEMPT][name] = f"{now:.0f}"
        series[LAST_OK][name] = "1" if succeeded else "0"
        if succeeded:
            series[SUCCESS][name] = f"{now:.0f}"
    out: list[str] = []
    for metric, help_text in HELP.items():
        out.append(f"# HELP {metric} {help_text}")
        out.append(f"# TYPE {metric} gauge")
        if metric == INVALID:
            out.append(f"{metric} {invalid}")
        elif metric == WRITTEN:
            out.append(f"{metric} {now:.0f}")
        else:
            out += [f'{metric}{{name="{_escape(n)}"}} {v}' for n, v in sorted(series[metric].items())]
    return "\n".join(out) + "\n"


STATE_DIR = ".certkernel-cache"
STATE_FILE = "metrics.json"
STATE_FORMAT = 1
RACY_NS = 1_000_000_000  # files changed this recently are read again next time


def _stamp(path: str) -> str | None:
    """A file's identity (device, inode, size, mtime, ctime); None if it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def _settled(path: str, limit_ns: int) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return True
    return max(st.st_mtime_ns, st.st_ctime_ns) < limit_ns


def _state_path(config_dir: str) -> str:
    return os.path.join(config_dir, STATE_DIR, STATE_FILE)


def _load_state(config_dir: str) -> dict[str, Any]:
    try:
        with open(_state_path(config_dir), encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        return {}
    entries = state.get("lineages")
    return entries if isinstance(entries, dict) else {}


def _save_state(config_dir: str, entries: dict[str, Any]) -> None:
    """Best effort: without it the next run reads every lineage again, nothing worse."""
    path = _state_path(config_dir)
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fsutil.atomic_write(path, json.dumps({"format": STATE_FORMAT, "lineages": entries}),
                            mode=0o600)
    except (errors.Error, OSError):
        logger.debug("metrics state not saved", exc_info=True)


def _from_state(conf: str, entry: Any) -> LineageFacts | None:
    """The remembered facts of a lineage whose conf, cert and ari.json are unchanged."""
    try:
        if (entry["conf"] is None or _stamp(conf) != entry["conf"]
                or _stamp(entry["cert_path"]) != entry["cert"]
                or _stamp(entry["ari_path"]) != entry["ari"]):
            return None
        start = entry["ari_start"]
        return LineageFacts(
            entry["name"], datetime.datetime.fromtimestamp(entry["not_before"], datetime.UTC),
            datetime.datetime.fromtimestamp(entry["not_after"], datetime.UTC),
            None if start is None else datetime.datetime.fromtimestamp(start, datetime.UTC))
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def _read(config_dir: str, conf: str, limit_ns: int) -> tuple[LineageFacts, dict[str, Any]]:
    """Read one lineage from its files; the entry remembers the stamps taken before reading."""
    conf_stamp = _stamp(conf)
    lineage = Lineage.from_conf(config_dir, conf, repair=False)
    cert_path, ari_path = lineage.cert_path, ari.state_path(lineage)
    cert_stamp, ari_stamp = _stamp(cert_path), _stamp(ari_path)
    not_before, not_after = lineage.validity()
    state = ari.load(lineage)
    start = state.window.start if state is not None and state.window is not None else None
    facts = LineageFacts(lineage.name, not_before, not_after, start)
    settled = all(_settled(p, limit_ns) for p in (conf, cert_path, ari_path))
    entry = {"name": lineage.name, "conf": conf_stamp if settled else None,
             "cert_path": cert_path, "cert": cert_stamp, "ari_path": ari_path, "ari": ari_stamp,
             "not_before": not_before.timestamp(), "not_after": not_after.timestamp(),
             "ari_start": None if start is None else start.timestamp()}
    return facts, entry


def collect_facts(config_dir: str) -> tuple[list[LineageFacts], int]:
    """Every lineage's validity and ARI window start, and how many confs were unreadable.

    ``renew`` with nothing due reads only cached stamps for its lineages; so do
    we: a lineage whose conf, current cert and ari.json have the stamps seen
    last time is not read again (three ``stat`` calls instead of a parse).
    """
    previous = _load_state(config_dir)
    entries: dict[str, Any] = {}
    facts: list[LineageFacts] = []
    invalid = 0
    limit_ns = time.time_ns() - RACY_NS
    for conf in conf_paths(config_dir):
        known = _from_state(conf, previous.get(conf))
        if known is not None:
            facts.append(known)
            entries[conf] = previous[conf]
            continue
        try:
            fact, entry = _read(config_dir, conf, limit_ns)
        except (errors.Error, OSError, ValueError, KeyError, TypeError):
            logger.debug("metrics: cannot read %s", conf, exc_info=True)
            invalid += 1
            continue
        facts.append(fact)
        entries[conf] = entry
    if entries != previous:
        _save_state(config_dir, entries)
    return facts, invalid


def write(metrics_file: str | None, work_dir: str, config_dir: str,
          attempts: Mapping[str, bool] | None = None) -> str | None:
    """Rewrite the metrics file; return its path (None when turned off or not writable).

    A failure to write is one line on stderr: the command's own result (a
    renewed certificate, a listing) stands.
    """
    try:
        return _write(metrics_file, work_dir, config_dir, attempts)
    except (errors.Error, OSError) as exc:
        logger.debug("metrics not written", exc_info=True)
        sys.stderr.write(f"Could not write the metrics file: {exc} (set --metrics-file to "
                         "another path, or --metrics-file \"\" to turn it off)\n")
        return None


def _write(metrics_file: str | None, work_dir: str, config_dir: str,
           attempts: Mapping[str, bool] | None) -> str | None:
    path = path_for(metrics_file, work_dir)
    if path is None:
        return None
    facts, invalid = collect_facts(config_dir)
    text = render(facts, invalid, read_previous(path), attempts or {}, time.time())
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o755, exist_ok=True)
    fsutil.atomic_write(path, text, mode=0o644)
    logger.debug("metrics written to %s", path)
    return path
