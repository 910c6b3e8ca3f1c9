"""The webroot authenticator: puts http-01 files where a running web server serves them.

Which webroot serves which name the kernel works out from what the manifest
declares: ``path`` (``-w``) is a per-domain option filling ``map``, so
Certbot's ordered ``-w``/``-d`` and ``--webroot-map`` arrive merged, and
each challenge carries its name's web root in ``per_domain["map"]``
(PROTOCOL.md section 8). The manifest declares ``per_domain_from_challenge``:
``renew`` then passes the web roots only with the challenges, and one
process serves every lineage. Against an older kernel (no ``per_domain``
field) this plugin reads ``options["map"]``, then the last ``-w`` given;
when there is none, it asks once and reuses the answer for the other names,
as Certbot does.
"""

from __future__ import annotations

import os

from certkernel.plugins.webroot.files import Ledger, check_webroot, remove_unrecorded
from certkernel.sdk import Authenticator, Challenge, PluginError


class Webroot(Authenticator):
    """Saves the necessary validation files to a .well-known/acme-challenge/
    directory within the nominated webroot path. A separate HTTP server must
    be running and serving files from the webroot path. HTTP challenge only
    (wildcards not supported)."""

    name = "webroot"
    version = "1.0.0"

    def __init__(self) -> None:
        self._ledger = Ledger()
        self._answered: str | None = None  # the webroot the user typed at a prompt

    # -- options -------------------------------------------------------------

    def _paths(self) -> list[str]:
        value = self.options.get("path") or []
        return [value] if isinstance(value, str) else [str(v) for v in value]

    def _map(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for key, root in (self.options.get("map") or {}).items():
            for name in str(key).split(","):
                if name.strip():
                    result[name.strip().lower()] = str(root)
        return result

    def _given(self, chall: Challenge) -> str:
        """The web root given for ``chall``'s name, or "" when none was.

        The challenge's own value first: with ``per_domain_from_challenge``
        one process serves lineages with different web roots, so ``renew``
        sends it no web root in its options. A kernel too old to send the
        value leaves the options: the map, then the last ``-w``.
        """
        mapped = self.per_domain_value(chall, "map")
        if mapped:
            return mapped
        if chall.per_domain is not None:
            return ""
        return (self._paths() or [""])[-1]

    def prepare(self) -> None:
        for root in self._paths() + list(self._map().values()):
            check_webroot(root)

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def _webroot_for(self, chall: Challenge) -> str:
        given = self._given(chall)
        if given:
            return given
        domain = chall.identifier
        if self._answered is None:
            answer = self.kernel.directory_select(
                f"Input the webroot for {domain}:", cli_flag="--webroot-path"
            )
            if not answer:
                raise PluginError(
                    f"Every requested domain must have a webroot when using the webroot "
                    f"plugin; none was given for {domain}"
                )
            self._answered = answer
        return self._answered

    # -- challenges ------------------------------------------------------------

    def perform(self, challenges: list[Challenge]) -> None:
        for chall in challenges:
            if chall.wildcard or chall.type != "http-01":
                name = f"*.{chall.identifier}" if chall.wildcard else chall.identifier
                raise PluginError(
                    f"The webroot plugin can only answer http-01 challenges, so it cannot "
                    f"validate {name} ({chall.type}); wildcard names need dns-01: use a DNS "
                    "plugin or --manual"
                )
        planned = [(chall, check_webroot(self._webroot_for(chall)))
                   for chall in challenges]
        try:
            for chall, root in planned:
                path = self._ledger.write_token(root, chall.token, chall.validation)
                self.kernel.log("debug", f"webroot: wrote {path} for {chall.identifier}")
        finally:
            self._save()

    def _ledger_file(self) -> str | None:
        return os.path.join(self.state_dir, "created.json") if self.state_dir else None

    def _save(self) -> None:
        path = self._ledger_file()
        if path is not None:
            try:
                self._ledger.save(path)
            except OSError as exc:
                self.kernel.log("warning", f"webroot: could not record created files: {exc}")

    def cleanup(self, challenges: list[Challenge]) -> None:
        ledger_file = self._ledger_file()
        if not self._ledger.records and ledger_file:
            self._ledger = Ledger.load(ledger_file)  # a fresh process after a crash
        try:
            self._cleanup(challenges)
        finally:
            self._save()

    def shutdown(self) -> None:
        self._ledger.close()

    def _cleanup(self, challenges: list[Challenge]) -> None:
        tokens = {chall.token for chall in challenges}
        recorded = {t for record in self._ledger.records.values() for t in record.tokens}
        for note in self._ledger.remove_tokens(tokens):
            self.kernel.log("info", f"webroot: {note}")
        if not recorded:
            self._cleanup_unrecorded(challenges)

    def _cleanup_unrecorded(self, challenges: list[Challenge]) -> None:
        """Cleanup in a fresh process that found no record: see ``remove_unrecorded``."""
        for chall in challenges:
            try:
                root = check_webroot(self._webroot_for_cleanup(chall))
                remove_unrecorded(root, chall.token, chall.validation)
            except PluginError as exc:
                self.kernel.log("info", f"webroot: left {chall.token} alone: {exc}")

    def _webroot_for_cleanup(self, chall: Challenge) -> str:
        root = self._given(chall) or self._answered
        if not root:
            raise PluginError(f"no webroot known for {chall.identifier}")
        return root
