"""acme2certifier, a second real ACME CA: the one here that speaks ARI (RFC 9773).

Why: Pebble 2.4 has no renewalInfo, so ``renew``'s use of the CA's renewal
window and the ``replaces`` field of renewal orders can only be tested
against another CA. acme2certifier (PyPI) runs on loopback with a file CA.

How: it is installed by name from PyPI into its own virtualenv under a
cache directory (once per machine, ~10 s, under a file lock so parallel
sessions do not race), and its WSGI app is served by a threaded ``wsgiref``
server on 127.0.0.1 and a free port, in a child process we stop by PID.
The server wraps the app in a small observer that appends every request
(method, path, and the decoded JWS payload) to a JSON-lines file: that is
how tests see that a renewal order carried ``replaces`` (acme2certifier
accepts the field but ignores it) and that a run made no request at all.

Challenges are not validated (``challenge_validation_disable`` with the
``ACME2CERTIFIER_I_KNOW_THE_RISK`` switch): ARI is what is tested here,
validation is tested against Pebble.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VERSION = "0.46.3"
INSTALL_TIMEOUT = 600.0
START_TIMEOUT = 30.0

SERVE = r'''
import base64, io, json, os, sys, threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, make_server
from acme2certifier.share.acme2certifier_wsgi import application, get_handler_cls

log_path, port_file = sys.argv[1], sys.argv[2]
lock = threading.Lock()


def b64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def observer(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    entry = {"method": environ["REQUEST_METHOD"], "path": environ.get("PATH_INFO", "")}
    if body:
        try:
            jws = json.loads(body)
            entry["url"] = json.loads(b64(jws["protected"])).get("url")
            entry["payload"] = json.loads(b64(jws["payload"])) if jws.get("payload") else None
        except Exception as exc:
            entry["undecoded"] = repr(exc)
    with lock:
        with open(log_path, "a") as handle:
            handle.write(json.dumps(entry) + "\n")
    return application(environ, start_response)


class Threaded(ThreadingMixIn, WSGIServer):
    daemon_threads = True


httpd = make_server("127.0.0.1", 0, observer, server_class=Threaded,
                    handler_class=get_handler_cls())
with open(port_file + ".tmp", "w") as handle:
    handle.write(str(httpd.server_address[1]))
os.replace(port_file + ".tmp", port_file)
httpd.serve_forever()
'''


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "certkernel-tests"


def ensure_installed(root: Path | None = None) -> Path:
    """The virtualenv's python with acme2certifier installed (installed on first use)."""
    root = root or cache_root()
    venv = root / f"acme2certifier-{VERSION}"
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"acme2certifier-{VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return python
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True,
                       timeout=INSTALL_TIMEOUT, capture_output=True)
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             f"acme2certifier=={VERSION}"],
            timeout=INSTALL_TIMEOUT, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"pip install acme2certifier failed:\n{result.stderr[-3000:]}")
        marker.write_text(VERSION)
    return python


def write_ca(directory: Path) -> tuple[Path, Path, Path]:
    """An issuing CA (with a Subject Key Identifier, so leaves carry an AKI) and its CRL."""
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certkernel ARI test CA")])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    crl = (
        x509.CertificateRevocationListBuilder().issuer_name(name)
        .last_update(now).next_update(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path, crl_path = (directory / n for n in ("ca-key.pem", "ca-cert.pem",
                                                             "ca-crl.pem"))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    crl_path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path, crl_path


@dataclass
class A2CSettings:
    """The knobs tests turn (``[Renewalinfo]`` and the certificate lifetime)."""

    renewal_force: bool = False
    retry_after: int = 7200
    threshold_pctg: int = 85
    cert_validity_days: int = 30
    # ACME profiles (name -> certificate lifetime in days); empty = no profiles
    # in the directory. With profiles, the first one is the default handler.
    profiles: dict[str, int] = field(default_factory=dict)
    ari: bool = True  # False: no renewalInfo in the directory


@dataclass
class A2C:
    """One running acme2certifier; ``requests()`` is what it received, in order."""

    state: Path
    python: Path
    settings: A2CSettings = field(default_factory=A2CSettings)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def directory_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/directory"

    @property
    def log_path(self) -> Path:
        return self.state / "requests.jsonl"

    def _config(self) -> str:
        key, cert, crl = write_ca(self.state) if not (self.state / "ca-key.pem").exists() \
            else (self.state / "ca-key.pem", self.state / "ca-cert.pem", self.state / "ca-crl.pem")
        certs = self.state / "issued"
        certs.mkdir(exist_ok=True)
        s = self.settings

        def handler(days: int) -> list[str]:
            return ["handler_module: acme2certifier.cahandlers.openssl_ca_handler",
                    f"issuing_ca_key: {key}", f"issuing_ca_cert: {cert}",
                    f"issuing_ca_crl: {crl}", f"cert_save_path: {certs}",
                    f"cert_validity_days: {days}", "ca_cert_chain_list: []", ""]

        if s.profiles:
            names = list(s.profiles)
            ca = ["[CAhandler]", "multi_handler: True", f"default_handler: {names[0]}", ""]
            for name, days in s.profiles.items():
                ca += [f"[CAhandler:{name}]", *handler(days)]
            ca += ["[Order]",
                   "profiles: " + json.dumps({n: f"{d}-day certificates"
                                              for n, d in s.profiles.items()}),
                   "profile_cahandler: " + json.dumps({n: n for n in names}),
                   "profiles_check_disable: False", ""]
        else:
            ca = ["[CAhandler]", *handler(s.cert_validity_days)]
        return "\n".join([
            "[DEFAULT]", "debug: False", 'dns_server_list: ["127.0.0.1"]', "",
            "[Nonce]", "nonce_check_disable: False", "",
            *ca,
            "[DBhandler]", "handler_module: acme2certifier.dbhandlers.wsgi_handler",
            f"dbfile: {self.state / 'acme_srv.db'}", "",
            "[Challenge]", "challenge_validation_disable: True", "",
            "[Renewalinfo]", f"renewalinfo_disable: {not s.ari}",
            f"renewalthreshold_pctg: {s.threshold_pctg}",
            f"retry_after_timeout: {s.retry_after}", f"renewal_force: {s.renewal_force}", "",
        ])

    def start(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        cfg = self.state / "acme_srv.cfg"
        cfg.write_text(self._config())
        (self.state / "serve.py").write_text(SERVE)
        port_file = self.state / "port"
        port_file.unlink(missing_ok=True)
        env = dict(os.environ, ACME_SRV_CONFIGFILE=str(cfg), ACME2CERTIFIER_I_KNOW_THE_RISK="1")
        env.pop("PYTHONPATH", None)
        stderr = open(self.state / "server.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [str(self.python), str(self.state / "serve.py"), str(self.log_path), str(port_file)],
            stdout=stderr, stderr=stderr, stdin=subprocess.DEVNULL, env=env, cwd=self.state,
            start_new_session=True)
        stderr.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not port_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.state / "server.log").read_text(errors="replace")[-3000:]
                self.stop()
                raise RuntimeError(f"acme2certifier did not start:\n{log}")
            time.sleep(0.05)
        self.port = int(port_file.read_text())

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def requests(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line]

    def mark(self) -> int:
        """How many requests so far (pass to ``requests_since``)."""
        return len(self.requests())

    def requests_since(self, mark: int) -> list[dict[str, Any]]:
        return self.requests()[mark:]

    def new_orders(self, since: int = 0) -> list[dict[str, Any]]:
        """Payloads of the newOrder requests (they list identifiers)."""
        return [r["payload"] for r in self.requests_since(since)
                if isinstance(r.get("payload"), dict) and "identifiers" in r["payload"]
                and "csr" not in r["payload"]]
