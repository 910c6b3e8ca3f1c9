"""Key parameters, key reuse, key file modes, dry-run deploy hooks, timeouts: against Pebble."""

from __future__ import annotations

import grp
import os
import socket
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from certkernel import crypto
from certkernel.lineages import renewal_conf
from tests.infra.cli_run import (
    Dirs,
    auth_args,
    check_lineage,
    ck,
    failed,
    obtain,
    ok,
)
from tests.infra.pebble import Pebble, free_port


def _key(dirs: Dirs, name: str) -> crypto.KeySpec:
    return crypto.key_spec_of((dirs.config / "live" / name / "privkey.pem").read_bytes())


def _params(dirs: Dirs, name: str) -> dict[str, Any]:
    return renewal_conf.read(str(dirs.config / "renewal" / f"{name}.conf")).params.as_dict()


def test_force_renewal_key_parameters_follow_certbot(dirs: Dirs, pebble: Pebble,
                                                      hook: Path) -> None:
    """certonly keeps the lineage's key *type*; size and curve come from this run."""
    ok(obtain(dirs, pebble, hook, "rsa4096.example.com",
              extra=("--key-type", "rsa", "--rsa-key-size", "4096")))
    assert _key(dirs, "rsa4096.example.com") == crypto.KeySpec("rsa", rsa_key_size=4096)
    ok(obtain(dirs, pebble, hook, "rsa4096.example.com", extra=("--force-renewal",)))
    assert _key(dirs, "rsa4096.example.com") == crypto.KeySpec("rsa", rsa_key_size=2048)
    params = _params(dirs, "rsa4096.example.com")
    assert (params["key_type"], params["rsa_key_size"]) == ("rsa", "2048")

    ok(obtain(dirs, pebble, hook, "p384.example.com", extra=("--elliptic-curve", "secp384r1")))
    assert _key(dirs, "p384.example.com").elliptic_curve == "secp384r1"
    ok(obtain(dirs, pebble, hook, "p384.example.com", extra=("--force-renewal",)))
    assert _key(dirs, "p384.example.com") == crypto.KeySpec("ecdsa", "secp256r1")
    # Saying it again on the command line keeps it.
    ok(obtain(dirs, pebble, hook, "p384.example.com",
              extra=("--force-renewal", "--elliptic-curve", "secp384r1")))
    assert _key(dirs, "p384.example.com").elliptic_curve == "secp384r1"
    check_lineage(dirs.config, "p384.example.com")


def test_key_type_change_needs_cert_name(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    ok(obtain(dirs, pebble, hook, "kt.example.com"))
    before = (dirs.config / "live" / "kt.example.com" / "cert.pem").read_bytes()
    err = failed(obtain(dirs, pebble, hook, "kt.example.com",
                        extra=("--key-type", "rsa", "--force-renewal")))
    assert err.strip() == (
        "Are you trying to change the key type of the certificate named kt.example.com from "
        "ECDSA to RSA? Please provide both --cert-name and --key-type on the command line to "
        "confirm the change you are trying to make.")
    assert (dirs.config / "live" / "kt.example.com" / "cert.pem").read_bytes() == before
    # With --cert-name the change is clear, and it renews even though not due.
    ok(obtain(dirs, pebble, hook, "kt.example.com",
              extra=("--key-type", "rsa", "--cert-name", "kt.example.com")))
    assert _key(dirs, "kt.example.com").key_type == "rsa"
    assert _params(dirs, "kt.example.com")["key_type"] == "rsa"


def test_new_key_and_no_reuse_key(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    name = "reuse.example.com"
    key_file = dirs.config / "live" / name / "privkey.pem"
    ok(obtain(dirs, pebble, hook, name, extra=("--reuse-key",)))
    first = key_file.read_bytes()
    assert _params(dirs, name)["reuse_key"] == "True"
    ok(ck(dirs, "renew", "--force-renewal", "--no-random-sleep-on-renew", pebble=pebble))
    assert key_file.read_bytes() == first  # the saved reuse_key is honoured
    err = failed(ck(dirs, "renew", "--force-renewal", "--no-random-sleep-on-renew",
                    "--key-type", "rsa", pebble=pebble))
    assert "Unable to change the --key-type of this certificate because --reuse-key is set" \
        in err
    assert key_file.read_bytes() == first
    ok(ck(dirs, "renew", "--force-renewal", "--no-random-sleep-on-renew", "--new-key",
          pebble=pebble))
    second = key_file.read_bytes()
    assert second != first
    assert _params(dirs, name)["reuse_key"] == "True"  # --new-key is a one-off
    ok(ck(dirs, "renew", "--force-renewal", "--no-random-sleep-on-renew", pebble=pebble))
    assert key_file.read_bytes() == second
    ok(ck(dirs, "renew", "--force-renewal", "--no-random-sleep-on-renew", "--no-reuse-key",
          pebble=pebble))
    third = key_file.read_bytes()
    assert third != second
    assert _params(dirs, name)["reuse_key"] == "False"
    ok(ck(dirs, "renew", "--force-renewal", "--no-random-sleep-on-renew", pebble=pebble))
    assert key_file.read_bytes() != third
    check_lineage(dirs.config, name)


def test_renewed_key_keeps_group_and_read_bits(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    name = "modes.example.com"
    ok(obtain(dirs, pebble, hook, name))
    live_key = dirs.config / "live" / name / "privkey.pem"
    group = next(g.gr_gid for g in grp.getgrall() if g.gr_gid != os.getgid())
    os.chown(live_key, -1, group)  # through the link, as an admin's chgrp does
    os.chmod(live_key, 0o644)
    ok(obtain(dirs, pebble, hook, name, extra=("--force-renewal",)))
    new = os.stat(live_key)
    assert os.readlink(live_key).endswith("privkey2.pem")
    assert stat.S_IMODE(new.st_mode) == 0o644
    assert new.st_gid == group
    os.chmod(live_key, 0o640)
    ok(ck(dirs, "renew", "--force-renewal", "--no-random-sleep-on-renew", pebble=pebble))
    assert os.readlink(live_key).endswith("privkey3.pem")
    assert stat.S_IMODE(os.stat(live_key).st_mode) == 0o640
    assert os.stat(live_key).st_gid == group
    os.chmod(live_key, 0o666)  # Certbot's mask: the group's bits and others' read only
    ok(obtain(dirs, pebble, hook, name, extra=("--force-renewal",)))
    assert stat.S_IMODE(os.stat(live_key).st_mode) == 0o664


def _deploy_hook(tmp_path: Path) -> tuple[str, Path]:
    out = tmp_path / "deployed.txt"
    script = tmp_path / "deploy.sh"
    script.write_text(f'#!/bin/sh\necho "$RENEWED_LINEAGE $RENEWED_DOMAINS" >> {out}\n')
    script.chmod(0o755)
    return str(script), out


def test_run_deploy_hooks_with_dry_run(tmp_path: Path, dirs: Dirs, pebble: Pebble,
                                       hook: Path) -> None:
    name = "dryhook.example.com"
    ok(obtain(dirs, pebble, hook, name))
    cert = (dirs.config / "live" / name / "cert.pem").read_bytes()
    command, out = _deploy_hook(tmp_path)
    ok(obtain(dirs, pebble, hook, name, extra=("--dry-run", "--deploy-hook", command)))
    assert not out.exists()
    ok(obtain(dirs, pebble, hook, name,
              extra=("--dry-run", "--deploy-hook", command, "--run-deploy-hooks")))
    live = dirs.config / "live" / name
    assert out.read_text() == f"{live} {name}\n"
    ok(ck(dirs, "renew", "--dry-run", "--no-random-sleep-on-renew", "--deploy-hook", command,
          "--run-deploy-hooks", pebble=pebble))
    assert out.read_text() == f"{live} {name}\n" * 2
    ok(ck(dirs, "renew", "--dry-run", "--no-random-sleep-on-renew", "--deploy-hook", command,
          pebble=pebble))
    assert out.read_text() == f"{live} {name}\n" * 2
    assert (live / "cert.pem").read_bytes() == cert  # nothing was replaced


class _SilentServer:
    """Accepts TCP connections and never answers: a validation that hangs."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_server(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.conns: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for conn in self.conns:
            conn.close()
        self.sock.close()


def test_issuance_timeout_bounds_the_wait(dirs: Dirs,
                                          pebble_factory: Callable[..., Pebble]) -> None:
    pebble = pebble_factory()  # its own CA: a hanging validation must not slow the others
    server = _SilentServer(pebble.http01_port)
    try:
        err = failed(ck(dirs, "certonly", "--manual", "--manual-auth-hook", "true",
                        "--preferred-challenges", "http", "-d", "slow.example.com",
                        "--agree-tos", "-m", "a@example.org", "--issuance-timeout", "1",
                        pebble=pebble))
    finally:
        server.close()
    assert "Timed out after 1s waiting for the CA to validate the challenges" in err
    assert "--issuance-timeout" in err
    assert not (dirs.config / "live" / "slow.example.com").exists()
    bad = ck(dirs, "certonly", "--issuance-timeout", "-5", "-d", "x.example.com")
    assert bad.returncode == 1
    assert "--issuance-timeout must be 0 or more seconds" in bad.stderr


def test_failed_validation_names_the_port_used_and_the_log(dirs: Dirs, pebble: Pebble) -> None:
    port = free_port()  # not Pebble's http-01 port: the CA finds nobody there
    err = failed(ck(dirs, "certonly", "--standalone", "--http-01-port", str(port),
                    "-d", "port.example.com", "--agree-tos", "-m", "a@example.org",
                    pebble=pebble))
    assert f"The http-01 challenge was answered on port {port} on this machine" in err
    assert "port 80 (http-01)" not in err
    assert f"See the logfile {dirs.logs / 'letsencrypt.log'}" in err


def test_csr_paths_get_their_folders(tmp_path: Path, dirs: Dirs, pebble: Pebble,
                                     hook: Path) -> None:
    key = crypto.make_key(crypto.KeySpec())
    csr = tmp_path / "req.pem"
    csr.write_bytes(crypto.make_csr(key, ["csrdir.example.com"]))
    out = tmp_path / "out" / "deeper"
    ok(ck(dirs, "certonly", *auth_args(hook), "--csr", str(csr), "--agree-tos", "-m",
          "a@example.org", "--cert-path", str(out / "c" / "cert.pem"),
          "--chain-path", str(out / "ch" / "chain.pem"),
          "--fullchain-path", str(out / "f" / "fullchain.pem"), pebble=pebble))
    cert = (out / "c" / "cert.pem").read_bytes()
    assert crypto.key_matches_cert(key, cert)
    assert (out / "f" / "fullchain.pem").read_bytes() == cert + (out / "ch" / "chain.pem").read_bytes()
    assert stat.S_IMODE(os.stat(out / "c").st_mode) & 0o022 == 0  # 0755 less the umask


def test_revoke_reason_in_certbots_spelling(dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    name = "reason.example.com"
    ok(obtain(dirs, pebble, hook, name))
    serial = crypto.cert_info((dirs.config / "live" / name / "cert.pem").read_bytes()).serial
    ok(ck(dirs, "revoke", "--cert-name", name, "--reason", "cessationOfOperation",
          "--no-delete-after-revoke", pebble=pebble))
    status = pebble.cert_status(serial)
    assert status["Status"] == "Revoked"
    assert status["Reason"] == 5


def test_eab_with_hs512_registers(tmp_path: Path, pebble_factory: Callable[..., Pebble]) -> None:
    import base64

    key = base64.urlsafe_b64encode(b"s" * 64).decode().rstrip("=")
    wrong = base64.urlsafe_b64encode(b"t" * 64).decode().rstrip("=")
    eab = pebble_factory(eab_keys={"kid-512": key})
    refused = Dirs.under(tmp_path / "wrong")
    err = failed(ck(refused, "register", "--agree-tos", "-m", "a@example.org",
                    "--eab-kid", "kid-512", "--eab-hmac-key", wrong, "--eab-hmac-alg", "HS512",
                    pebble=eab))
    assert "Could not register an account" in err
    dirs = Dirs.under(tmp_path / "right")
    out = ok(ck(dirs, "register", "--agree-tos", "-m", "a@example.org", "--eab-kid", "kid-512",
                "--eab-hmac-key", key, "--eab-hmac-alg", "HS512", pebble=eab)).stdout
    assert "Account registered." in out
