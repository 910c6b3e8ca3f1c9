"""Derived values and cross-flag checks of a new Config, before it is built.

:func:`certkernel.config.build_config` merges the layers, then everything
here decides what the flags mean together (staging server, quiet means
non-interactive, per-domain maps, plugin shortcuts) and refuses what makes no
sense, each with one clear line naming the flags, so that every command sees
the same decisions.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from certkernel.cmdline.cli_flags import FLAGS, LE_PRODUCTION, LE_STAGING
from certkernel.errors import ConfigurationError

if TYPE_CHECKING:
    from certkernel.plugin_host.manifest import Manifest

CHALLENGE_ALIASES = {"http": "http-01", "dns": "dns-01", "tls-alpn": "tls-alpn-01"}
KNOWN_CHALLENGES = frozenset({"http-01", "dns-01", "tls-alpn-01"})
_KERNEL_DESTS = frozenset(flag.dest for flag in FLAGS)


def normalize_challenges(values: list[str]) -> list[str]:
    """Certbot's ``http``/``dns`` shorthands to ACME challenge types, deduplicated."""
    result: list[str] = []
    for value in values:
        name = CHALLENGE_ALIASES.get(value.strip().lower(), value.strip().lower())
        if not name:
            continue
        if name not in KNOWN_CHALLENGES:
            raise ConfigurationError(
                f"--preferred-challenges: unknown challenge type {value!r} "
                f"(use {', '.join(sorted(KNOWN_CHALLENGES))}, or http/dns)"
            )
        if name not in result:
            result.append(name)
    return result


def select_plugins(values: dict[str, Any], shortcuts: list[str], manifests: Mapping[str, Manifest]) -> None:
    """Apply ``--nginx``-style shortcuts and --configurator like Certbot does.

    A plugin that is both authenticator and installer fills both roles; any
    two requests that disagree are an error naming both.
    """
    requests: list[tuple[str, str, str]] = []  # (role, plugin, flag)
    for name in shortcuts:
        manifest = manifests.get(name)
        roles = manifest.roles if manifest else ("authenticator",)
        for role in roles:
            requests.append((role, name, f"--{name}"))
    if values.get("configurator"):
        name = values["configurator"]
        requests += [("authenticator", name, "--configurator"), ("installer", name, "--configurator")]
    for role in ("authenticator", "installer"):
        if values.get(role):
            requests.insert(0, (role, values[role], f"--{role}"))
    chosen: dict[str, tuple[str, str]] = {}
    for role, name, flag in requests:
        if role in chosen and chosen[role][0] != name:
            prev_name, prev_flag = chosen[role]
            raise ConfigurationError(
                f"Too many flags setting the {role}: {prev_flag} asks for {prev_name!r}, "
                f"{flag} asks for {name!r}"
            )
        chosen.setdefault(role, (name, flag))
    for role, (name, _flag) in chosen.items():
        values[role] = name


def merge_per_domain(values: dict[str, Any], explicit: set[str], sources: dict[str, str],
                      manifests: Mapping[str, Manifest], pairings: Mapping[str, Any]) -> None:
    """Fill each ``per_domain`` option's map: what the manifest declares, generically.

    Certbot's ``-w``/``--webroot-map`` rule for any plugin: the names paired
    on the command line first; entries given in the map option itself win and
    add their names (``"a,b": value`` keys) to the domains; names still
    unpaired get the last value.  A map filled from values the user gave is
    theirs (saved in the renewal conf, as Certbot saves ``[[webroot_map]]``).
    """
    for manifest in manifests.values():
        for listed, mapped in manifest.per_domain_options:
            ordered: dict[str, str] = dict(pairings.get(listed.dest, {}))
            for key, value in (values.get(mapped.dest) or {}).items():
                for name in (n.strip().lower() for n in str(key).split(",")):
                    if name:
                        ordered[name] = value
                        if name not in values["domains"]:
                            values["domains"].append(name)
            if values.get(listed.dest):
                for name in values["domains"]:
                    ordered.setdefault(name, values[listed.dest][-1])
            values[mapped.dest] = ordered
            if ordered and listed.dest in explicit and mapped.dest not in explicit:
                explicit.add(mapped.dest)
                sources[mapped.dest] = sources[listed.dest]


def resolve(verb: str, values: dict[str, Any], sources: dict[str, str],
             explicit: set[str]) -> None:
    """Derived values and cross-flag checks, each failing with one clear line."""
    values["pref_challs"] = normalize_challenges(values["pref_challs"])
    if values["quiet"]:
        values["noninteractive_mode"] = True
    if values["force_interactive"] and values["noninteractive_mode"]:
        raise ConfigurationError(
            "Using --force-interactive and --non-interactive (or --quiet) together is nonsensical"
        )
    if values["force_interactive"] and verb == "renew":
        raise ConfigurationError("--force-interactive cannot be used with the renew subcommand")
    _resolve_server(values, sources, explicit)
    _check_verb_flags(verb, values)
    if "rsa_key_size" in explicit and "key_type" not in explicit:
        values["key_type"] = "rsa"
        sources["key_type"] = "--rsa-key-size"
        explicit.add("key_type")
    _check_ranges(values)


def _resolve_server(values: dict[str, Any], sources: dict[str, str], explicit: set[str]) -> None:
    """``--staging``/``--dry-run`` use the staging directory unless --server names another."""
    if not (values["staging"] or values["dry_run"]):
        return
    server_explicit = "server" in explicit
    if server_explicit and values["staging"] and values["server"] not in (LE_STAGING, LE_PRODUCTION):
        raise ConfigurationError(
            f"--server value {values['server']!r} conflicts with --staging; use one of them"
        )
    if not server_explicit or values["server"] == LE_PRODUCTION:
        values["server"] = LE_STAGING
        sources["server"] = "--staging" if values["staging"] else "--dry-run"


def _check_verb_flags(verb: str, values: Mapping[str, Any]) -> None:
    """Flags that only some subcommands, or only some combinations, accept."""
    if values["dry_run"] and verb not in ("certonly", "renew", "run"):
        raise ConfigurationError("--dry-run can only be used with the certonly and renew subcommands")
    if values["csr"] and verb not in ("certonly",):
        raise ConfigurationError("--csr only works with the certonly subcommand")
    if values["csr"] and values["allow_subset_of_names"]:
        raise ConfigurationError("--allow-subset-of-names cannot be used with --csr")
    if bool(values["eab_kid"]) != bool(values["eab_hmac_key"]):
        raise ConfigurationError("--eab-kid and --eab-hmac-key must be given together")
    if values["plugin_user"] is not None and not values["plugin_user"].split(":")[0]:
        raise ConfigurationError("--plugin-user expects USER or USER:GROUP")


def _check_ranges(values: Mapping[str, Any]) -> None:
    """Numbers and names that must be in range, each named by its flag."""
    for dest in ("http01_port", "https_port"):
        if not 0 < values[dest] < 65536:
            raise ConfigurationError(f"--{dest.replace('01', '-01').replace('_', '-')} must be a port between 1 and 65535")
    if values["issuance_timeout"] < 0:
        raise ConfigurationError("--issuance-timeout must be 0 or more seconds")
    for dest in ("preferred_profile", "required_profile"):
        if values[dest] is not None and not str(values[dest]).strip():
            raise ConfigurationError(f"--{dest.replace('_', '-')} needs a profile name")
    if values["max_log_backups"] < 0:
        raise ConfigurationError("--max-log-backups must be 0 or more")
    if values["rsa_key_size"] < 2048 and values["key_type"] == "rsa":
        raise ConfigurationError("--rsa-key-size must be at least 2048")


def expand_paths(values: dict[str, Any], manifests: Mapping[str, Manifest],
                  env: Mapping[str, str]) -> None:
    """Relative paths become the user's: plugins run in their own state directory,
    and the renewal conf is read later from anywhere (cron)."""
    for dest in ("config_dir", "work_dir", "logs_dir"):
        values[dest] = _expand(values[dest], env)
    for dest in ("csr", "cert_path", "key_path", "fullchain_path", "chain_path", "ca_bundle",
                 "store_password_file", "store_key_file"):
        if values[dest]:
            values[dest] = _expand(values[dest], env)
    for dest, kind in _path_options(manifests).items():
        values[dest] = _expand_value(kind, values.get(dest), env)


def _path_options(manifests: Mapping[str, Manifest]) -> dict[str, str]:
    """dest -> type of every plugin option that holds paths.

    Options of a path type, and the roots a manifest's ``[confine]
    write_options`` names (a path, a list of paths or a map's values).
    """
    found: dict[str, str] = {}
    for manifest in manifests.values():
        roots = manifest.confine.write_options if manifest.confine else ()
        for spec in manifest.options:
            if spec.type in ("path", "secret-file", "secret-text") or spec.name in roots:
                found[spec.dest] = spec.type
    return {dest: kind for dest, kind in found.items() if dest not in _KERNEL_DESTS}


def _expand_value(kind: str, value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str) and value:
        return _expand(value, env)
    if kind == "list" and isinstance(value, list):
        return [_expand(str(v), env) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _expand(str(v), env) for k, v in value.items()}
    return value


def ip_identifier(text: str) -> str:
    """``--ip-address``: one IPv4/IPv6 address (no scope, no network), compressed form.

    Certbot's rule; the compressed text is what the CSR and the CA's
    identifier will carry, so lineage names and listings match.
    """
    import ipaddress

    value = text.strip()
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        raise ConfigurationError(
            f"--ip-address: {text!r} is not an IP address (use -d for domain names)") from None
    if getattr(addr, "scope_id", None):
        raise ConfigurationError(f"--ip-address: {text!r} has a scope id; give the bare address")
    return addr.compressed


def _expand(path: str, env: Mapping[str, str]) -> str:
    """``~`` from the run's environment (not this process's), then absolute."""
    home = env.get("HOME")
    if home and (path == "~" or path.startswith("~/")):
        path = home + path[1:]
    return os.path.abspath(os.path.expanduser(path))


def dedupe(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
