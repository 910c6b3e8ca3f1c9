"""A real BIND 9 on a loopback port, accepting TSIG-signed RFC 2136 updates.

Tests of the DNS authenticators need an authoritative server that behaves
like a production one: it refuses unsigned or wrongly signed updates, and
serves what was added at once. ``named -g`` runs in the foreground as our own
child, so it is stopped by its PID and nothing outlives the session.

Usable as a script for manual poking::

    python -m tests.infra.bind /tmp/bindtest
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.update

from tests.infra.pebble import free_port_tcp_udp

NAMED_BIN = "/usr/sbin/named"
TSIG_KEYGEN_BIN = "/usr/sbin/tsig-keygen"


@dataclass
class BindZone:
    """One primary zone; ``records`` are extra zone-file lines (relative names allowed)."""

    name: str
    records: list[str] = field(default_factory=list)
    updatable: bool = True  # False: the key may update nothing here (updates are REFUSED)


DEFAULT_ZONES: tuple[BindZone, ...] = (
    BindZone("example.com", ["www IN A 127.0.0.1"]),
    # A zone below a public-suffix-looking parent: zone guessing must find
    # "validation.example.net", not "example.net".
    BindZone("validation.example.net"),
    BindZone("example.org"),
    BindZone("locked.test", updatable=False),
)


def _run(argv: list[str], timeout: float = 10.0) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


class Bind:
    """One ``named`` process with its own config, zones and TSIG key."""

    def __init__(
        self,
        state_dir: Path,
        zones: tuple[BindZone, ...] = DEFAULT_ZONES,
        key_name: str = "acme-key",
        algorithm: str = "hmac-sha256",
    ) -> None:
        self.dir = Path(state_dir)
        self.zones = zones
        self.key_name = key_name
        self.algorithm = algorithm
        self.secret = ""
        self.port = 0
        self.address = "127.0.0.1"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = self.dir / "named.log"

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> Bind:
        self.dir.mkdir(parents=True, exist_ok=True)
        key_file = self.dir / "tsig.key"
        key_text = _run([TSIG_KEYGEN_BIN, "-a", self.algorithm, self.key_name])
        key_file.write_text(key_text)
        os.chmod(key_file, 0o600)
        self.secret = _parse_secret(key_text)
        for zone in self.zones:
            (self.dir / f"{zone.name}.zone").write_text(_zone_text(zone))
        self.port = free_port_tcp_udp()
        conf = self.dir / "named.conf"
        conf.write_text(self._named_conf(key_file))
        log = open(self._log, "wb")  # noqa: SIM115 - owned by the child for its lifetime
        try:
            self._proc = subprocess.Popen(
                [NAMED_BIN, "-g", "-4", "-c", str(conf)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()
        self._wait_ready(timeout=15.0)
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def __enter__(self) -> Bind:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _named_conf(self, key_file: Path) -> str:
        zones = "".join(
            f'zone "{z.name}" {{ type primary; file "{self.dir / (z.name + ".zone")}";\n'
            f"  update-policy {{ {self._grant(z)} }}; }};\n"
            for z in self.zones
        )
        return (
            f'include "{key_file}";\n'
            "options {\n"
            f'  directory "{self.dir}";\n'
            f'  pid-file "{self.dir / "named.pid"}";\n'
            f'  session-keyfile "{self.dir / "session.key"}";\n'
            f"  listen-on port {self.port} {{ 127.0.0.1; }};\n"
            "  listen-on-v6 { none; };\n"
            "  recursion no; dnssec-validation no; notify no;\n"
            "};\n"
            "controls { };\n" + zones
        )

    def _grant(self, zone: BindZone) -> str:
        if zone.updatable:
            return f"grant {self.key_name}. zonesub ANY;"
        return f"grant {self.key_name}. name nothing.{zone.name}. A;"

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        first = dns.name.from_text(self.zones[0].name)
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"named exited early:\n{self.log_tail()}")
            try:
                answer = dns.query.udp(
                    dns.message.make_query(first, dns.rdatatype.SOA),
                    self.address, port=self.port, timeout=0.3,
                )
                if answer.rcode() == dns.rcode.NOERROR and answer.answer:
                    return
            except (OSError, dns.exception.Timeout):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"named not ready after {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- helpers for tests -------------------------------------------------

    def txt(self, name: str) -> list[str]:
        """The TXT strings BIND serves for ``name`` right now (sorted), asked directly."""
        query = dns.message.make_query(dns.name.from_text(name), dns.rdatatype.TXT)
        answer = dns.query.tcp(query, self.address, port=self.port, timeout=3)
        values: list[str] = []
        for rrset in answer.answer:
            if rrset.rdtype == dns.rdatatype.TXT:
                for rdata in rrset:
                    values.append(b"".join(rdata.strings).decode())
        return sorted(values)

    def update(
        self,
        zone: str,
        add: Sequence[tuple[str, int, str, str]] = (),
        delete: Sequence[str] = (),
    ) -> None:
        """Signed update for test setup: ``add`` is (name, ttl, type, rdata); ``delete`` names."""
        keyring = dns.tsigkeyring.from_text({self.key_name: self.secret})
        upd = dns.update.UpdateMessage(zone, keyring=keyring, keyalgorithm=self.algorithm)
        for name in delete:
            upd.delete(dns.name.from_text(name))
        for name, ttl, rtype, rdata in add:
            upd.add(dns.name.from_text(name), ttl, rtype, rdata)
        response = dns.query.tcp(upd, self.address, port=self.port, timeout=5)
        if response.rcode() != dns.rcode.NOERROR:
            raise RuntimeError(f"update refused: {dns.rcode.to_text(response.rcode())}")

    def credentials(self, **overrides: str) -> dict[str, str]:
        """The ``dns_rfc2136_*`` keys a user would put in the credentials INI."""
        values = {
            "dns_rfc2136_server": self.address,
            "dns_rfc2136_port": str(self.port),
            "dns_rfc2136_name": self.key_name,
            "dns_rfc2136_secret": self.secret,
            "dns_rfc2136_algorithm": self.algorithm.upper(),
        }
        values.update(overrides)
        return values

    def write_credentials(self, path: Path, **overrides: str) -> Path:
        """Write the credentials INI (mode 0600), as a user would."""
        text = "".join(f"{k} = {v}\n" for k, v in self.credentials(**overrides).items())
        path.write_text(text)
        os.chmod(path, 0o600)
        return path


def _parse_secret(key_text: str) -> str:
    for line in key_text.splitlines():
        line = line.strip()
        if line.startswith("secret"):
            return line.split('"')[1]
    raise RuntimeError(f"no secret in tsig-keygen output: {key_text!r}")


def _zone_text(zone: BindZone) -> str:
    origin = zone.name.rstrip(".") + "."
    lines = [
        f"$ORIGIN {origin}",
        "$TTL 60",
        f"@ IN SOA ns1.{origin} hostmaster.{origin} 1 3600 600 86400 60",
        f"@ IN NS ns1.{origin}",
        "ns1 IN A 127.0.0.1",
        *zone.records,
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a test BIND until Ctrl-C.")
    parser.add_argument("state_dir", type=Path)
    args = parser.parse_args(argv)
    with Bind(args.state_dir) as bind:
        print(f"named on 127.0.0.1:{bind.port}, key {bind.key_name} secret {bind.secret}")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
