"""Installer round trip: deploy_cert and save on scratch data, then a rollback
through the kernel's checkpoints must restore every byte (PROTOCOL.md §5.3, §5.5).

A plugin with a server root (the first of ``[needs] checkpoint_roots``) only ever works
on a copy of the folder the user names, and only when no file of that copy
names the original folder by absolute path (an ``include /etc/nginx/...``
would make the plugin change the original). Otherwise the round trip is
skipped with the reason and what to pass.
"""

from __future__ import annotations

import datetime
import os
import shutil
from collections.abc import Callable
from typing import Any

from certkernel import errors
from certkernel.checkpoints.reverter import Reverter
from certkernel.conformance.context import Context, describe_error, handshake, handshake_problem
from certkernel.conformance.wire import RawPlugin, show
from certkernel.plugin_host.services import KernelServices

NAME = "deploy-save-rollback"
DOMAIN = "plugin-check.example.org"
_MAX_SCAN = 1024 * 1024
# The scratch folder (inside plugin-check's scratch space) the installer's
# root is copied to; the only place the round trip may checkpoint.
ROOT_COPY = "root-copy"


def _snapshot(root: str | None) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    if root is None:
        return files
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as fh:
                    files[os.path.relpath(path, root)] = fh.read()
            elif os.path.islink(path):
                files[os.path.relpath(path, root)] = b"-> " + os.readlink(path).encode()
    return files


def _points_back(copy: str, original: str) -> str | None:
    """A file of ``copy`` that names ``original`` by absolute path, with the line."""
    needles = {os.path.abspath(original).rstrip("/"), os.path.realpath(original).rstrip("/")}
    for folder, _dirs, names in os.walk(copy):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                target = os.readlink(path)
                if os.path.isabs(target) and any(target.startswith(n + "/") or target == n for n in needles):
                    return f"{os.path.relpath(path, copy)} is a link to {target}"
                continue
            try:
                with open(path, "rb") as fh:
                    data = fh.read(_MAX_SCAN)
            except OSError:
                continue
            for number, line in enumerate(data.splitlines(), 1):
                if any(n.encode() + b"/" in line for n in needles):
                    text = line.decode("utf-8", "replace").strip()
                    return f"{os.path.relpath(path, copy)}:{number} ({text[:80]})"
    return None


def _cert_files(folder: str) -> dict[str, str]:
    """A self-signed certificate for DOMAIN, written like a live/ lineage."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    os.makedirs(folder, mode=0o700, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    paths = {k: os.path.join(folder, f"{k}.pem") for k in ("cert", "privkey", "chain", "fullchain")}
    fd = os.open(paths["privkey"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    for kind in ("cert", "chain", "fullchain"):
        with open(paths[kind], "wb") as fh:
            fh.write(pem)
    return paths


def _copy_root(ctx: Context, option: str) -> str | None:
    """The scratch copy of the user's server root, or None after reporting SKIP."""
    flag = f"--{ctx.name}-{option}"
    if option not in ctx.user_options or not ctx.options.get(option):
        ctx.report.skip(NAME, f"needs a server root to copy: pass {flag} DIR and plugin-check runs "
                        "deploy_cert/save/rollback on a scratch copy of DIR (never on DIR itself)")
        return None
    original = str(ctx.options[option])
    copy = os.path.join(ctx.scratch, ROOT_COPY)
    try:
        shutil.copytree(original, copy, symlinks=True)
    except (OSError, shutil.Error) as exc:
        ctx.report.skip(NAME, f"cannot copy {flag} {original}: {exc}")
        return None
    back = _points_back(copy, original)
    if back:
        ctx.report.skip(NAME, f"a copy of {original} is not safe to change: {back} names the original by "
                        "absolute path; give a tree whose includes are relative")
        return None
    return copy


def installer_round_trip(ctx: Context) -> None:
    option = ctx.manifest.server_root_option or ""
    options = dict(ctx.options)
    root: str | None = None
    if option:
        root = _copy_root(ctx, option)
        if root is None:
            return
        options[option] = root
    paths = _cert_files(os.path.join(ctx.scratch, "live", DOMAIN))
    with Reverter(os.path.join(ctx.scratch, "installer-checkpoints")) as reverter:
        # The scratch copy is the plugin's one declared root here; a plugin that
        # declares none gets its checkpoint calls refused, as in a real run.
        services = KernelServices(ctx.name, checkpoints=reverter,
                                  roots=[os.path.realpath(root)] if root else [])
        with ctx.spawn() as plugin:
            try:
                _round_trip(ctx, plugin, services.handle, reverter, root, options, paths)
            except errors.Error as exc:
                ctx.report.fail(NAME, f"{exc}; stderr: {plugin.stderr_text()}", "§5.3")


def _round_trip(ctx: Context, plugin: RawPlugin, handler: Callable[[str, dict[str, Any]], dict[str, Any]],
                reverter: Reverter, root: str | None, options: dict[str, Any], paths: dict[str, str]) -> None:
    where = f"the scratch copy {root}" if root else "scratch data"
    reply = handshake(ctx, plugin, options=options)
    problem = handshake_problem(ctx, reply)
    if problem:
        # The session's handshake passed (else this is not run): these options broke it.
        ctx.report.fail(NAME, f"initialize with the options for {where} {problem}", "§4")
        return
    reply = plugin.call("prepare", {}, 60.0, handler)
    if reply.error is not None:
        ctx.report.skip(NAME, f"prepare on {where} answered {describe_error(reply.error)}")
        return
    reply = plugin.call("get_all_names", {}, 60.0, handler)
    names = reply.result.get("names") if isinstance(reply.result, dict) else None
    domain = DOMAIN
    if isinstance(names, list):
        plain = [n for n in names if isinstance(n, str) and not n.startswith("*") and "." in n]
        domain = plain[0] if plain else DOMAIN
    if root and domain == DOMAIN:
        ctx.report.skip(NAME, f"{where} serves no name to deploy to (get_all_names returned {show(names, 60)})")
        return
    before = _snapshot(root)
    sent = f"deploy_cert {{domain: {domain}}} with a self-signed cert on {where}"
    params = {"domain": domain, "cert_path": paths["cert"], "key_path": paths["privkey"],
              "chain_path": paths["chain"], "fullchain_path": paths["fullchain"]}
    for method, call_params in (("deploy_cert", params), ("save", {"title": "plugin-check", "temporary": False})):
        reply = plugin.call(method, call_params, 60.0, handler)
        ctx.record(method, reply)
        if reply.error is not None:
            ctx.report.fail(NAME, f"{sent}: {method} answered {describe_error(reply.error)}", "§5.3")
            return
    changed = sorted(k for k in set(before) | set(_snapshot(root)) if before.get(k) != _snapshot(root).get(k))
    if root and not changed:
        ctx.report.fail(NAME, f"{sent}, then save: no file under the server root changed", "§5.3")
        return
    reverter.rollback(1)
    after = _snapshot(root)
    differ = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    plugin.call("recovery_routine", {}, 60.0, handler)
    if differ:
        ctx.report.fail(NAME, f"{sent} and save changed {len(changed)} file(s); after rolling back the "
                        f"checkpoint {len(differ)} still differ ({', '.join(differ[:3])}): register files "
                        "with checkpoint/add or checkpoint/register_new before changing them and "
                        "finalize the checkpoint in save", "§5.5")
    elif root:
        ctx.report.ok(NAME, f"{sent}: save changed {len(changed)} file(s) ({', '.join(changed[:3])}); "
                      "rollback restored every byte")
    else:
        ctx.report.ok(NAME, f"{sent}: deploy_cert and save answered {{}}; no file changed")
