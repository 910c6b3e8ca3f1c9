"""Per-lineage facts for the "is anything due?" decision, cached under the config dir.

Cron runs ``renew`` twice a day and almost always nothing is due. Reading a
thousand renewal confs, certificates and ARI files to learn that costs more
than the rest of the run. So what was read is kept in
``<config-dir>/.certkernel-cache/renewal.json`` (0600, written atomically):
the parsed conf, the current version, the cert's validity, and one extra
value the caller derives from the lineage (the plan stores its ARI state).
A hit rebuilds the same :class:`~certkernel.lineages.storage.Lineage` ``from_conf``
would give, without opening a file.

An entry is trusted only while everything it was derived from is unchanged
on disk, compared by identity stamps (device, inode, size, mtime, ctime):
the conf; the directories holding the live links (a symlink cannot be
changed in place, so retargeting, removing or adding one always changes its
directory's stamp); the archive directory (files of a version appearing or
vanishing, ``ari.json`` rewritten, change it); and the current cert file.
That is four ``stat`` calls per lineage. Any difference, any unreadable or malformed entry, a cache of
another format, or a checksum mismatch, and the lineage is read from its
files as if there were no cache.
Files changed within the last :data:`RACY_NS` are never cached, so an
in-place edit landing within one timestamp tick of our read cannot hide
behind an unchanged stamp (git's "racily clean" rule).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import time
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from certkernel import errors, fsutil
from certkernel.lineages.lineage_files import ALL_FOUR
from certkernel.lineages.renewal_conf import RenewalConf, RenewalParams
from certkernel.lineages.storage import Lineage

if TYPE_CHECKING:
    from certkernel.lineages.renewal_conf import RenewalConf
    from certkernel.lineages.storage import Lineage

logger = logging.getLogger(__name__)

CACHE_DIR = ".certkernel-cache"
CACHE_FILE = "renewal.json"
FORMAT = 5
_MAGIC = b"certkernel-renewal-cache"
RACY_NS = 1_000_000_000
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MICRO = datetime.timedelta(microseconds=1)

Extra = Callable[["Lineage"], Any]
Quick = Callable[["Lineage", Any], Any]


def _stamp(st: os.stat_result) -> str:
    """A file's identity: device, inode, size, mtime and ctime (ns), as one string."""
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def micros(when: datetime.datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (exact in JSON)."""
    return (when - _EPOCH) // _MICRO


def from_micros(value: Any) -> datetime.datetime:
    if type(value) is not int:
        raise TypeError("malformed time")
    return _EPOCH + datetime.timedelta(microseconds=value)


def _same(st: os.stat_result, raw: Any) -> bool:
    """Whether a stored stamp is this file's; raises TypeError on junk."""
    if type(raw) is not str:
        raise TypeError("malformed stamp")
    return _stamp(st) == raw


def _checksum(payload: bytes) -> str:
    """Catches a damaged file; an adler32 is enough and costs no hashlib import."""
    return f"{zlib.adler32(payload):08x}{len(payload):x}"


def cache_path(config_dir: str) -> str:
    return os.path.join(config_dir, CACHE_DIR, CACHE_FILE)


def _conf_to_json(conf: RenewalConf) -> dict[str, Any]:
    return {"archive_dir": conf.archive_dir, "cert": conf.cert, "privkey": conf.privkey,
            "chain": conf.chain, "fullchain": conf.fullchain, "params": conf.params.as_dict(),
            "version": conf.version, "renew_before_expiry": conf.renew_before_expiry,
            "has_renewalparams": conf.has_renewalparams, "extra": conf.extra}


def _conf_from_json(path: str, raw: Any) -> RenewalConf:
    if not isinstance(raw, dict):
        raise TypeError("malformed conf")
    for key in ("archive_dir", "cert", "privkey", "chain", "fullchain"):
        if not isinstance(raw[key], str):
            raise TypeError("malformed conf")
    for key in ("version", "renew_before_expiry"):
        if raw[key] is not None and not isinstance(raw[key], str):
            raise TypeError("malformed conf")
    if not (isinstance(raw["params"], dict) and isinstance(raw["extra"], dict)
            and isinstance(raw["has_renewalparams"], bool)):
        raise TypeError("malformed conf")
    return RenewalConf(
        path=path, archive_dir=raw["archive_dir"], cert=raw["cert"], privkey=raw["privkey"],
        chain=raw["chain"], fullchain=raw["fullchain"], params=RenewalParams(raw["params"], path),
        version=raw["version"], renew_before_expiry=raw["renew_before_expiry"],
        has_renewalparams=raw["has_renewalparams"], extra=raw["extra"],
    )


def _no_extra(_lineage: Lineage) -> None:
    return None


def _no_quick(_lineage: Lineage, _extra: Any) -> None:
    return None


class RenewalCache:
    """The cache of one config dir: look entries up, record fresh ones, save if changed.

    On disk: a header line (magic, format, checksum of the rest), then one
    line per lineage, ``<conf path> TAB <head> TAB <body>`` (each JSON): the
    head holds the stamps and the caller's small "quick" value, the body the
    conf, validity and extra value. Entries stay text until looked up, and
    :meth:`quick` parses only the head.
    """

    def __init__(self, config_dir: str, entries: dict[str, str] | None = None) -> None:
        self.config_dir = config_dir
        self.path = cache_path(config_dir)
        self._entries: dict[str, str] = entries or {}  # conf path -> entry JSON
        self._dirty = False

    # -- reading the cache file ---------------------------------------------
    @classmethod
    def open(cls, config_dir: str) -> RenewalCache:
        """The cache as stored; empty when missing, unreadable, corrupt or of another format."""
        path = cache_path(config_dir)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            return cls(config_dir)
        header, _, payload = data.partition(b"\n")
        entries: dict[str, str] = {}
        try:
            if header != _header(payload):
                raise ValueError("bad header or checksum")
            for line in payload.decode("utf-8").split("\n")[:-1]:
                key, tab, entry = line.partition("\t")
                if not tab or len(key) < 2 or key[0] != '"' or key[-1] != '"':
                    raise ValueError("malformed line")
                # A key without escapes is the path between its quotes.
                conf_path = json.loads(key) if "\\" in key else key[1:-1]
                if not isinstance(conf_path, str):
                    raise ValueError("malformed line")
                entries[conf_path] = entry
        except (ValueError, UnicodeDecodeError) as exc:
            logger.debug("ignoring renewal cache %s: %s", path, exc)
            return cls(config_dir, {})
        return cls(config_dir, entries)

    def _head(self, conf_path: str) -> tuple[list[Any], str] | None:
        """The entry's head (stamps and quick value) if the files are unchanged, and its body."""
        line = self._entries.get(conf_path)
        if line is None:
            return None
        head_text, tab, body = line.partition("\t")
        try:
            head = json.loads(head_text)
            conf_stamp, link_dirs, archive_dir, archive_stamp, version, cert_stamp, _quick = head
            if not tab or not _same(os.stat(conf_path), conf_stamp):
                return None
            if not isinstance(link_dirs, list) or not link_dirs:
                return None
            for directory, stamp in link_dirs:
                if not _same(os.stat(directory), stamp):
                    return None
            if not _same(os.stat(archive_dir), archive_stamp) or type(version) is not int:
                return None
            if not _same(os.stat(os.path.join(archive_dir, f"cert{version}.pem")), cert_stamp):
                return None
        except (OSError, TypeError, ValueError, OverflowError):
            return None
        return head, body

    def quick(self, conf_path: str) -> Any:
        """The small value recorded by ``load(..., quick=)`` if the files are unchanged, else None.

        Costs the four ``stat`` calls and a short parse; nothing else is built.
        """
        found = self._head(conf_path)
        return None if found is None else found[0][6]

    def lookup(self, conf_path: str) -> tuple[Lineage, Any] | None:
        """``(lineage, extra)`` as recorded, if every source is unchanged on disk; else None.

        The lineage is what ``Lineage.from_conf`` would return (its validity
        already known); ``extra`` is the JSON value recorded with it.
        """
        found = self._head(conf_path)
        if found is None:
            return None
        head, body = found
        try:
            conf, validity, extra = json.loads(body)
            parsed = _conf_from_json(conf_path, conf)
            if parsed.archive_dir != head[2]:
                return None
            not_before, not_after = validity
            lineage = Lineage(parsed.name, self.config_dir, parsed, head[4],
                              _validity=(from_micros(not_before), from_micros(not_after)))
        except (TypeError, ValueError, KeyError, OverflowError):
            return None
        return lineage, extra

    # -- recording ----------------------------------------------------------
    def load(self, conf_path: str, extra: Extra = _no_extra,
             quick: Quick = _no_quick) -> tuple[Lineage, Any]:
        """Read a lineage from its files (as without a cache) and remember it.

        ``extra(lineage)`` is called after the files were stamped and its
        JSON-able result is stored and returned with the entry (the plan
        keeps the lineage's ARI state there); ``quick(lineage, extra)`` gives
        the small value :meth:`quick` returns (the plan's verdict). The conf
        and the directories are stamped before they are read, the cert
        before its validity is parsed, and the links are checked again at
        the end, so a change racing with this read leaves an entry that no
        longer matches (or none), never one describing other content.
        Errors of a broken lineage propagate, as from ``Lineage.from_conf``.
        """
        self._drop(conf_path)
        conf_stat = os.stat(conf_path)
        lineage = Lineage.from_conf(self.config_dir, conf_path)
        directories = sorted({os.path.dirname(lineage.link_path(k)) for k in ALL_FOUR})
        dir_stats = [os.stat(d) for d in directories]
        archive_stat = os.stat(lineage.archive_dir)
        cert_stat = os.stat(lineage.archive_path("cert"))
        not_before, not_after = lineage.validity()
        value = extra(lineage)
        small = quick(lineage, value)
        if (lineage.repaired or lineage.layout.current_version() != lineage.version
                or not self._settled(conf_stat, cert_stat, archive_stat, *dir_stats)):
            return lineage, value
        head = [
            _stamp(conf_stat),
            [[d, _stamp(st)] for d, st in zip(directories, dir_stats, strict=True)],
            lineage.archive_dir, _stamp(archive_stat), lineage.version, _stamp(cert_stat), small,
        ]
        body = [_conf_to_json(lineage.conf), [micros(not_before), micros(not_after)], value]
        self._entries[conf_path] = (json.dumps(head, separators=(",", ":")) + "\t"
                                    + json.dumps(body, separators=(",", ":")))
        self._dirty = True
        return lineage, value

    @staticmethod
    def _settled(*stats: os.stat_result) -> bool:
        """False if any file changed so recently that a same-tick edit could go unseen."""
        limit = time.time_ns() - RACY_NS
        return all(max(st.st_mtime_ns, st.st_ctime_ns) < limit for st in stats)

    def _drop(self, conf_path: str) -> None:
        if self._entries.pop(conf_path, None) is not None:
            self._dirty = True

    def keep_only(self, conf_paths: list[str]) -> None:
        """Forget lineages whose conf is gone (after a scan of all of them)."""
        wanted = set(conf_paths)
        for stale in [p for p in self._entries if p not in wanted]:
            self._drop(stale)

    def save(self) -> None:
        """Write the cache if anything changed; failing to write only costs speed."""
        if not self._dirty:
            return
        # json.dumps escapes control characters: no TAB or newline inside a part.
        payload = "".join(f"{json.dumps(path)}\t{entry}\n"
                          for path, entry in self._entries.items()).encode("ascii")
        try:
            fsutil.make_dirs(os.path.dirname(self.path), 0o700)
            fsutil.atomic_write(self.path, _header(payload) + b"\n" + payload, 0o600)
        except (errors.Error, OSError) as exc:
            logger.debug("cannot save the renewal cache %s: %s", self.path, exc)
            return
        self._dirty = False


def _header(payload: bytes) -> bytes:
    return b"%s %d %s" % (_MAGIC, FORMAT, _checksum(payload).encode())
