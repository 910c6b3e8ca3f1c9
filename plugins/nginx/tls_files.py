"""The TLS options file and DH parameters the installer includes.

Like Certbot, certkernel ships ``options-ssl-nginx.conf`` and
``ssl-dhparams.pem`` and installs them into the config directory. It keeps
the SHA-256 of what it wrote; on a later run the file is upgraded only if it
still has a digest we wrote (or shipped), so a user's own edits are never
overwritten — they get a warning instead.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass

from certkernel.sdk.atomic import write_atomic

OPTIONS_NAME = "options-ssl-nginx.conf"
DHPARAM_NAME = "ssl-dhparams.pem"

OPTIONS_TEXT = """\
# This file contains important security parameters. If you modify this file
# manually, certkernel will be unable to automatically provide future security
# updates. Instead, certkernel will print and log an error message with a path
# to the up-to-date file that you will need to refer to when manually updating
# this file.

ssl_session_cache shared:certkernel_nginx_SSL:10m;
ssl_session_timeout 1440m;
ssl_session_tickets off;

ssl_protocols TLSv1.2 TLSv1.3;
ssl_prefer_server_ciphers off;

ssl_ciphers "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";
"""


def _directive_names(text: str) -> tuple[str, ...]:
    from .parser import parse_text

    return tuple(d.name for d in parse_text(text, OPTIONS_NAME).children)


# What including the options file sets: a site that sets any of these already has a TLS policy.
OPTION_DIRECTIVES = _directive_names(OPTIONS_TEXT)

# The ffdhe2048 group of RFC 7919, the same parameters Certbot ships.
DHPARAM_TEXT = """\
-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""

# Digests of every version of each file we ever shipped (upgradable when found).
SHIPPED = {
    OPTIONS_NAME: {hashlib.sha256(OPTIONS_TEXT.encode()).hexdigest()},
    DHPARAM_NAME: {hashlib.sha256(DHPARAM_TEXT.encode()).hexdigest()},
}
CURRENT = {OPTIONS_NAME: OPTIONS_TEXT, DHPARAM_NAME: DHPARAM_TEXT}


@dataclass
class TlsFiles:
    """Installs/upgrades the shipped files in ``directory``; digests live in ``state_dir``."""

    directory: str
    state_dir: str
    warn: Callable[[str], None]

    @property
    def options_path(self) -> str:
        return os.path.join(self.directory, OPTIONS_NAME)

    @property
    def dhparam_path(self) -> str:
        return os.path.join(self.directory, DHPARAM_NAME)

    def _digests_file(self) -> str:
        return os.path.join(self.state_dir, "installed-digests.json")

    def _load(self) -> dict[str, str]:
        try:
            with open(self._digests_file(), encoding="utf-8") as fh:
                data = json.load(fh)
            return {str(k): str(v) for k, v in data.items()}
        except (OSError, ValueError):
            return {}

    def ensure(self) -> None:
        """Install missing files, upgrade unedited ones, leave edited ones alone."""
        os.makedirs(self.directory, exist_ok=True)
        recorded = self._load()
        for name, text in CURRENT.items():
            path = os.path.join(self.directory, name)
            wanted = hashlib.sha256(text.encode()).hexdigest()
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
                # Empty: created by the kernel so a confined plugin may fill it in.
                have = hashlib.sha256(data).hexdigest() if data else None
            except FileNotFoundError:
                have = None
            if have == wanted:
                recorded[name] = wanted
                continue
            if have is not None and have not in SHIPPED[name] and have != recorded.get(name):
                self.warn(
                    f"{path} was edited by hand, so it is not upgraded; compare it with the "
                    "current version shipped in certkernel.plugins.nginx.tls_files"
                )
                continue
            _write(path, text)
            recorded[name] = wanted
        os.makedirs(self.state_dir, exist_ok=True)
        _write(self._digests_file(), json.dumps(recorded, indent=1, sort_keys=True))


def _write(path: str, text: str) -> None:
    """Atomically via a temporary file and rename; in place where renaming is not allowed.

    A plugin confined by Landlock may rewrite the files its manifest lists
    under ``[confine] write_files`` but not create others beside them.
    """
    write_atomic(path, text, mode=0o644, in_place_if_denied=True)
