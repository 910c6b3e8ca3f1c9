"""The TLS options file every SSL vhost we create includes.

Kept in the config dir (``options-ssl-apache.conf``, Certbot's name and
place) with a digest of what we wrote beside it: we upgrade the file only
while it still holds our own text, and never overwrite a user's edits.
Settings follow Mozilla's "intermediate" profile (TLS 1.2 and 1.3).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from certkernel.sdk.atomic import write_atomic

OPTIONS_NAME = "options-ssl-apache.conf"
DIGEST_NAME = ".options-ssl-apache.conf.digest"

OPTIONS_TEXT = """\
# Written by certkernel. If you edit this file, certkernel will stop
# updating it; security updates then have to be applied by hand.
# Based on Mozilla's intermediate configuration (TLS 1.2 and 1.3).

SSLEngine on

SSLProtocol             all -SSLv3 -TLSv1 -TLSv1.1
SSLCipherSuite          ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384
SSLHonorCipherOrder     off
SSLSessionTickets       off

SSLOptions +StrictRequire
"""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def install_options_file(config_dir: Path) -> Path:
    """Write or upgrade the options file unless the user changed it; return its path."""
    path = config_dir / OPTIONS_NAME
    digest_path = config_dir / DIGEST_NAME
    ours = OPTIONS_TEXT.encode()
    current = path.read_bytes() if path.exists() else b""
    if current:  # empty: created by the kernel so a confined plugin may fill it in
        if current == ours:
            return path
        recorded = digest_path.read_text().strip() if digest_path.exists() else ""
        if recorded != _digest(current):
            print(
                f"{path} was changed by hand; leaving it as it is "
                "(compare with certkernel's current recommendation)",
                file=sys.stderr,
            )
            return path
    config_dir.mkdir(parents=True, exist_ok=True)
    # Confined by Landlock, only the files in [confine] write_files may be
    # rewritten (in place); nothing may be created beside them.
    write_atomic(path, ours, mode=0o644, in_place_if_denied=True)
    digest_path.write_text(_digest(ours) + "\n")
    return path
