"""A real Pebble ACME CA (plus pebble-challtestsrv for DNS) for tests and benchmarks.

Why this exists: every ACME behaviour of certkernel is tested against the
real Pebble binary, never a mock. Pebble needs a TLS certificate for its own
listener, free ports, a DNS server and some environment switches; this module
makes all of that reproducible on a shared machine (ports chosen at run time,
processes stopped by PID, every wait bounded).

Run by hand or from a benchmark::

    python tests/infra/pebble.py --serve --state /tmp/pebble-state

starts one in the foreground and writes ``<state>/pebble.json`` with the
directory URL, CA bundle path, management URL and challtestsrv URL.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PEBBLE_BIN = "/usr/bin/pebble"
CHALLTESTSRV_BIN = "/usr/bin/pebble-challtestsrv"
START_TIMEOUT = 15.0


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    """Ask the kernel for a port that is free right now on ``host``."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_port_tcp_udp(host: str = "127.0.0.1") -> int:
    """A port free for both TCP and UDP (a DNS server listens on both)."""
    for _ in range(50):
        port = free_port(host)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no port free for both TCP and UDP after 50 tries")


def write_tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """Make a throwaway CA and a localhost leaf; return (ca, cert, key) paths.

    The Debian package ships no certificate for Pebble's HTTPS listener, and
    clients must verify it against a CA we control.
    """
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certkernel test TLS CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = directory / "tls-ca.pem"
    cert_path = directory / "tls-cert.pem"
    key_path = directory / "tls-key.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(key_path, 0o600)
    return ca_path, cert_path, key_path


@dataclass(frozen=True)
class PebbleOptions:
    """What kind of CA a test needs; the defaults give a fast, deterministic one."""

    eab_keys: dict[str, str] | None = None  # kid -> base64url HMAC key; requires EAB
    alternate_roots: int = 0
    chain_length: int = 1
    nonce_reject_percent: int = 0
    dns_server: str | None = None  # "127.0.0.1:port"; default: our challtestsrv
    # 0 is not never: Pebble 2.4.0 still reuses ~1% (tests/infra/pebble_authz.py).
    authz_reuse_percent: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)


def _wait_until(check: Any, timeout: float, what: str, proc: subprocess.Popen[bytes],
                log: Path) -> None:
    """Poll ``check()`` every 20 ms until it is true, the process dies, or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early (rc={proc.returncode}): "
                               f"{log.read_text(errors='replace')[-2000:]}")
        try:
            if check():
                return
        except (OSError, requests.RequestException):
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{what} not ready after {timeout}s: "
                       f"{log.read_text(errors='replace')[-2000:]}")


class Pebble:
    """One running Pebble + challtestsrv pair; stop() ends exactly the processes it started."""

    def __init__(self, state_dir: Path, options: PebbleOptions | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.options = options or PebbleOptions()
        self.acme_port = 0
        self.mgmt_port = 0
        self.http01_port = 0
        self.tlsalpn_port = 0
        self.dns_port = 0
        self.challtestsrv_port = 0
        self.ca_bundle = ""
        self._procs: list[subprocess.Popen[bytes]] = []
        self._session = requests.Session()
        # REQUESTS_CA_BUNDLE (often set) would silently override Session.verify.
        self._session.trust_env = False

    # -- lifecycle -------------------------------------------------------
    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.acme_port}/dir"

    @property
    def mgmt_url(self) -> str:
        return f"https://127.0.0.1:{self.mgmt_port}"

    @property
    def challtestsrv_url(self) -> str:
        return f"http://127.0.0.1:{self.challtestsrv_port}"

    def start(self) -> Pebble:
        """Start both processes and wait (bounded) until both answer."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        ca, cert, key = write_tls_files(self.state_dir)
        self.ca_bundle = str(ca)
        self._session.verify = self.ca_bundle
        try:
            self._start_challtestsrv()
            self._start_pebble(cert, key)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_challtestsrv(self) -> None:
        self.dns_port = free_port_tcp_udp()
        self.challtestsrv_port = free_port()
        log = self.state_dir / "challtestsrv.log"
        argv = [
            CHALLTESTSRV_BIN, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
            "-dns01", f"127.0.0.1:{self.dns_port}",
            "-management", f"127.0.0.1:{self.challtestsrv_port}",
            "-http01", "", "-https01", "", "-tlsalpn01", "",
        ]
        with open(log, "wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        self._procs.append(proc)
        _wait_until(lambda: self._port_open(self.challtestsrv_port), START_TIMEOUT,
                    "pebble-challtestsrv", proc, log)

    def _start_pebble(self, cert: Path, key: Path) -> None:
        opts = self.options
        self.acme_port, self.mgmt_port = free_port(), free_port()
        self.http01_port, self.tlsalpn_port = free_port(), free_port()
        conf: dict[str, Any] = {
            "listenAddress": f"127.0.0.1:{self.acme_port}",
            "managementListenAddress": f"127.0.0.1:{self.mgmt_port}",
            "certificate": str(cert),
            "privateKey": str(key),
            "httpPort": self.http01_port,
            "tlsPort": self.tlsalpn_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": bool(opts.eab_keys),
        }
        if opts.eab_keys:
            conf["externalAccountMACKeys"] = dict(opts.eab_keys)
        conf_path = self.state_dir / "pebble-config.json"
        conf_path.write_text(json.dumps({"pebble": conf}, indent=2))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PEBBLE_VA_NOSLEEP": "1",
            "PEBBLE_WFE_NONCEREJECT": str(opts.nonce_reject_percent),
            "PEBBLE_AUTHZREUSE": str(opts.authz_reuse_percent),
            "PEBBLE_ALTERNATE_ROOTS": str(opts.alternate_roots),
            "PEBBLE_CHAIN_LENGTH": str(opts.chain_length),
            **opts.extra_env,
        }
        dns = opts.dns_server or f"127.0.0.1:{self.dns_port}"
        log = self.state_dir / "pebble.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [PEBBLE_BIN, "-config", str(conf_path), "-dnsserver", dns],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            )
        self._procs.append(proc)
        _wait_until(self._ready, START_TIMEOUT, "pebble", proc, log)

    def _ready(self) -> bool:
        return (self._get(self.directory_url, timeout=2).status_code == 200
                and self._get(f"{self.mgmt_url}/roots/0", timeout=2).status_code == 200)

    def _get(self, url: str, timeout: float) -> requests.Response:
        return self._session.get(url, timeout=timeout, verify=self.ca_bundle)

    @staticmethod
    def _port_open(port: int) -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True

    def stop(self) -> None:
        """Terminate our processes (by PID), wait up to 5 s each, then kill."""
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        self._procs.clear()
        self._session.close()

    def __enter__(self) -> Pebble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- Pebble management API ------------------------------------------
    def _mgmt_get(self, path: str) -> requests.Response:
        resp = self._get(f"{self.mgmt_url}{path}", timeout=5)
        resp.raise_for_status()
        return resp

    def root_pem(self, index: int = 0) -> str:
        """PEM of root ``index`` (0 = default chain, 1.. = alternate roots)."""
        return self._mgmt_get(f"/roots/{index}").text

    def intermediate_pem(self, index: int = 0) -> str:
        return self._mgmt_get(f"/intermediates/{index}").text

    def cert_status(self, serial: int) -> dict[str, Any]:
        """Pebble's view of a certificate: {"Status": "Valid"|"Revoked", ...}."""
        data: dict[str, Any] = self._mgmt_get(f"/cert-status-by-serial/{serial:x}").json()
        return data

    # -- challtestsrv management API -----------------------------------
    def _chall_post(self, path: str, body: dict[str, Any]) -> None:
        resp = self._session.post(f"{self.challtestsrv_url}{path}", json=body, timeout=5)
        resp.raise_for_status()

    @staticmethod
    def _fqdn(host: str) -> str:
        return host if host.endswith(".") else host + "."

    def set_txt(self, host: str, value: str) -> None:
        """Add a TXT value for ``host`` (adds; does not replace earlier values)."""
        self._chall_post("/set-txt", {"host": self._fqdn(host), "value": value})

    def clear_txt(self, host: str) -> None:
        self._chall_post("/clear-txt", {"host": self._fqdn(host)})

    def add_a(self, host: str, addresses: list[str]) -> None:
        self._chall_post("/add-a", {"host": self._fqdn(host), "addresses": addresses})

    def clear_a(self, host: str) -> None:
        self._chall_post("/clear-a", {"host": self._fqdn(host)})

    def info(self) -> dict[str, Any]:
        """What scripts need to talk to this CA (written as pebble.json by --serve)."""
        return {
            "directory_url": self.directory_url,
            "ca_bundle": self.ca_bundle,
            "mgmt_url": self.mgmt_url,
            "challtestsrv_url": self.challtestsrv_url,
            "http01_port": self.http01_port,
            "tlsalpn_port": self.tlsalpn_port,
            "dns_port": self.dns_port,
        }


def main(argv: list[str] | None = None) -> int:
    """Serve one Pebble in the foreground until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", required=True)
    parser.add_argument("--state", help="state directory (default: a new temp dir)")
    parser.add_argument("--alternate-roots", type=int, default=0)
    parser.add_argument("--chain-length", type=int, default=1)
    parser.add_argument("--dns-server", default=None)
    args = parser.parse_args(argv)
    state = Path(args.state or tempfile.mkdtemp(prefix="pebble-"))
    options = PebbleOptions(alternate_roots=args.alternate_roots,
                            chain_length=args.chain_length, dns_server=args.dns_server)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Pebble(state, options) as pebble:
        info_path = state / "pebble.json"
        info_path.write_text(json.dumps(pebble.info(), indent=2))
        print(json.dumps(pebble.info()), flush=True)
        while not stop.wait(1.0):
            if any(p.poll() is not None for p in pebble._procs):
                print("pebble or challtestsrv exited", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
