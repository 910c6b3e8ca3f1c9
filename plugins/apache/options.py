"""The plugin's options, with Certbot's names, and their defaults per OS family.

Certbot's Apache plugin picks paths and commands by distribution (Debian's
``/etc/apache2`` + ``apache2ctl`` + ``a2enmod``, RHEL's ``/etc/httpd`` +
``apachectl``). An empty option means "the family default". When the user
names a server root, its layout decides the family (``apache2.conf`` is
Debian's, ``conf/httpd.conf`` RHEL's), so a private tree works anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certkernel.sdk import MisconfigurationError, NoInstallationError

FAMILIES: dict[str, dict[str, Any]] = {
    "debian": {
        "server_root": "/etc/apache2",
        "vhost_root": "sites-available",
        "ctl": "apache2ctl",
        "bin": "apache2",
        "enmod": "a2enmod",
        "dismod": "a2dismod",
        "handle_modules": True,
        "handle_sites": True,
        "challenge_location": "",
        "logs_root": "/var/log/apache2",
        "main": "apache2.conf",
    },
    "rhel": {
        "server_root": "/etc/httpd",
        "vhost_root": "conf.d",
        "ctl": "apachectl",
        "bin": "httpd",
        "enmod": "",
        "dismod": "",
        "handle_modules": False,
        "handle_sites": False,
        "challenge_location": "conf.d",
        "logs_root": "/var/log/httpd",
        "main": "conf/httpd.conf",
    },
}


@dataclass
class ApacheOptions:
    """Resolved options: every path absolute, every command named."""

    family: str
    server_root: Path
    main_file: Path
    vhost_root: Path
    le_vhost_ext: str
    ctl: str
    bin: str
    enmod: str
    dismod: str
    handle_modules: bool
    handle_sites: bool
    challenge_location: Path
    logs_root: Path


def os_family(os_release: Path = Path("/etc/os-release")) -> str:
    """``debian`` or ``rhel`` from /etc/os-release (Debian when unsure)."""
    try:
        text = os_release.read_text()
    except OSError:
        return "debian"
    ids = " ".join(re.findall(r"^(?:ID|ID_LIKE)=\"?([^\"\n]*)", text, re.M)).lower()
    if any(w in ids.split() for w in ("rhel", "fedora", "centos", "rocky", "almalinux")):
        return "rhel"
    return "debian"


def _family_of_root(root: Path) -> str | None:
    if (root / "apache2.conf").is_file():
        return "debian"
    if (root / "conf" / "httpd.conf").is_file() or (root / "httpd.conf").is_file():
        return "rhel"
    return None


def resolve(raw: dict[str, Any]) -> ApacheOptions:
    """Options from the kernel (keys with ``-`` or ``_``) to :class:`ApacheOptions`."""
    opts = {k.replace("-", "_"): v for k, v in raw.items() if v not in (None, "")}
    root = Path(opts["server_root"]) if "server_root" in opts else None
    family = (_family_of_root(root) if root else None) or os_family()
    d = FAMILIES[family]
    root = root or Path(d["server_root"])
    if not root.is_dir():
        raise NoInstallationError(
            f"Apache server root {root} not found; install Apache or set --apache-server-root"
        )
    main = root / d["main"]
    if family == "rhel" and not main.is_file() and (root / "httpd.conf").is_file():
        main = root / "httpd.conf"
    if not main.is_file():
        raise MisconfigurationError(
            f"no {d['main']} in {root}; set --apache-server-root to the folder holding "
            "apache2.conf or conf/httpd.conf"
        )

    def path(key: str) -> Path:
        value = Path(str(opts.get(key, d[key])))
        return value if value.is_absolute() else root / value

    def flag(key: str) -> bool:
        value = opts.get(key, d[key])
        return (
            value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
        )

    return ApacheOptions(
        family=family,
        server_root=root,
        main_file=main,
        vhost_root=path("vhost_root"),
        le_vhost_ext=str(opts.get("le_vhost_ext", "-le-ssl.conf")),
        ctl=str(opts.get("ctl", d["ctl"])),
        bin=str(opts.get("bin", d["bin"])),
        enmod=str(opts.get("enmod", d["enmod"])),
        dismod=str(opts.get("dismod", d["dismod"])),
        handle_modules=flag("handle_modules"),
        handle_sites=flag("handle_sites"),
        challenge_location=path("challenge_location"),
        logs_root=path("logs_root"),
    )


def read_envvars(path: Path) -> dict[str, str]:
    """``export NAME=value`` lines of Debian's envvars file (what apache2ctl sources)."""
    out: dict[str, str] = {}
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return out
    for m in re.finditer(r"^\s*export\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$", text, re.M):
        value = m.group(2).strip().strip("'\"")
        value = re.sub(r"\$\{?SUFFIX\}?", "", value)
        if "$" not in value and "`" not in value:
            out[m.group(1)] = value
    return out
