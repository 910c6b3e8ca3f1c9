"""``Config``: the one resolved, typed configuration every command receives.

Values come in layers, highest first: the command line, cli.ini files, the
lineage's renewal conf (``renew`` only, see :meth:`Config.with_renewal_conf`)
and built-in defaults.  Each value remembers where it came from, because
renewal confs must store only what the user chose and ``--help`` shows the
origin of every default.  Commands get this object and nothing global.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from certkernel.cmdline.cli_flags import FLAGS, LE_PRODUCTION, default_of
from certkernel.cmdline.config_resolve import (
    dedupe,
    expand_paths,
    ip_identifier,
    merge_per_domain,
    normalize_challenges,
    resolve,
    select_plugins,
)
from certkernel.lock import parse_timeout
from certkernel.plugin_host.manifest_values import convert_value

if TYPE_CHECKING:
    from certkernel.plugin_host.manifest import Manifest

SOURCE_CLI = "command line"
SOURCE_DEFAULT = "default"
REVOCATION_REASONS = {
    "unspecified": 0, "keycompromise": 1, "affiliationchanged": 3, "superseded": 4,
    "cessationofoperation": 5,
}
# Certbot renewal confs use a few keys that are another name of our dests.
RENEWAL_KEY_ALIASES = {"renew_hook": "deploy_hook"}
# A layer key (not a setting): per-domain option dest -> {domain: value} as
# paired on the command line (``-w A -d x``), see :func:`_merge_per_domain`.
PAIRINGS = "_per_domain"


@dataclass(frozen=True)
class Config:
    """Every kernel setting, typed, plus plugin option values and provenance."""

    verb: str = "run"
    # positional arguments of the subcommand (``plugin-check NAME|PATH``)
    args: tuple[str, ...] = ()
    # general
    config_file: str | None = None
    verbose_count: int = 0
    max_log_backups: int = 1000
    noninteractive_mode: bool = False
    force_interactive: bool = False
    domains: list[str] = field(default_factory=list)
    eab_kid: str | None = None
    eab_hmac_key: str | None = None
    certname: str | None = None
    dry_run: bool = False
    debug_challenges: bool = False
    preferred_chain: str | None = None
    pref_challs: list[str] = field(default_factory=list)
    user_agent: str | None = None
    user_agent_comment: str | None = None
    json: bool = False
    metrics_file: str | None = None  # None: WORK_DIR/certkernel.prom; "": off
    # seconds any lock waits for its holder (CERTKERNEL_LOCK_TIMEOUT; certkernel.lock)
    lock_timeout: float = 60.0
    plugin_user: str | None = None
    # certkernel responder
    responder_listen: str | None = None
    responder_user: str | None = None
    # automation
    reinstall: bool = False
    expand: bool = False
    renew_by_default: bool = False
    renew_with_new_domains: bool = False
    reuse_key: bool = False
    allow_subset_of_names: bool = False
    tos: bool = False
    duplicate: bool = False
    quiet: bool = False
    random_sleep_on_renew: bool = True
    # security
    key_type: str = "ecdsa"
    rsa_key_size: int = 2048
    elliptic_curve: str = "secp256r1"
    must_staple: bool = False
    redirect: bool | None = None
    hsts: bool | None = None
    uir: bool | None = None
    staple: bool | None = None
    auto_hsts: bool = False
    strict_permissions: bool = False
    # testing
    staging: bool = False
    debug: bool = False
    no_verify_ssl: bool = False
    ca_bundle: str | None = None
    http01_port: int = 80
    http01_address: str = ""
    https_port: int = 443
    break_my_certs: bool = False
    # paths
    cert_path: str | None = None
    key_path: str | None = None
    fullchain_path: str | None = None
    chain_path: str | None = None
    config_dir: str = "/etc/letsencrypt"
    work_dir: str = "/var/lib/letsencrypt"
    logs_dir: str = "/var/log/letsencrypt"
    server: str = LE_PRODUCTION
    csr: str | None = None
    # hooks and renewal
    pre_hook: str | None = None
    post_hook: str | None = None
    deploy_hook: str | None = None
    validate_hooks: bool = True
    directory_hooks: bool = True
    disable_renew_updates: bool = False
    autorenew: bool = True
    # revoke / accounts / rollback
    reason: str = "unspecified"
    delete_after_revoke: bool | None = None
    register_unsafely_without_email: bool = False
    email: str | None = None
    eff_email: bool | None = None
    account: str | None = None
    checkpoints: int = 1
    # plugins
    init: bool = False
    prepare: bool = False
    authenticators: bool = False
    installers: bool = False
    configurator: str | None = None
    authenticator: str | None = None
    installer: str | None = None
    # Certbot 2.x-5.x additions
    ip_addresses: list[str] = field(default_factory=list)
    eab_hmac_alg: str = "HS256"
    preferred_profile: str | None = None
    required_profile: str | None = None
    issuance_timeout: int = 90
    new_key: bool = False
    run_deploy_hooks: bool = False
    # fleet mode (docs/fleet.md); store is None in the default, local mode
    store: str | None = None
    store_password_file: str | None = None
    store_key_file: str | None = None
    # plugin options by dest (``dns_rfc2136_credentials``), typed per manifest
    plugin_values: Mapping[str, Any] = field(default_factory=dict)
    # provenance
    explicit: frozenset[str] = frozenset()
    sources: Mapping[str, str] = field(default_factory=dict)
    config_files: tuple[str, ...] = ()
    # manifests that failed to load, as one-line messages (``certkernel plugins`` shows them)
    plugin_problems: tuple[str, ...] = ()
    manifests: Mapping[str, Manifest] = field(default_factory=dict, compare=False, repr=False)

    # -- provenance ---------------------------------------------------------
    def is_set(self, dest: str) -> bool:
        """True when the user chose this value (command line or config file)."""
        return dest in self.explicit

    def source(self, dest: str) -> str:
        """Where the value of ``dest`` came from, for messages and --help."""
        return self.sources.get(dest, SOURCE_DEFAULT)

    def get(self, dest: str) -> Any:
        """A kernel or plugin value by dest name."""
        if dest in _FIELD_NAMES:
            return getattr(self, dest)
        return self.plugin_values.get(dest)

    # -- plugins ------------------------------------------------------------
    def plugin_options(self, manifest: Manifest) -> dict[str, Any]:
        """Option name -> typed value for one plugin (what its process receives)."""
        result: dict[str, Any] = {}
        for opt in manifest.options:
            if opt.dest in _FIELD_NAMES:
                result[opt.name] = getattr(self, opt.dest)
            else:
                result[opt.name] = self.plugin_values.get(opt.dest, opt.default)
        return result

    # -- renewal --------------------------------------------------------------
    def with_renewal_conf(self, params: Mapping[str, Any], origin: str) -> Config:
        """This config with a lineage's ``[renewalparams]`` filling non-user values.

        Command line and cli.ini values win; keys unknown to the kernel and
        to every manifest are ignored (Certbot writes a few we do not use).
        """
        changes: dict[str, Any] = {}
        sources = dict(self.sources)
        specs = _plugin_specs(self.manifests)
        for key, raw in params.items():
            dest = RENEWAL_KEY_ALIASES.get(key, key)
            if dest in self.explicit or dest in changes:
                continue
            if dest in _FIELD_NAMES and dest in _KERNEL_TYPES:
                kind = _KERNEL_TYPES[dest]
            elif dest in specs:
                kind = specs[dest].type
            else:
                continue
            changes[dest] = _coerce(kind, raw, dest, origin)
            sources[dest] = f"renewal conf {origin}"
        plugin_values = dict(self.plugin_values)
        kernel_changes = {k: v for k, v in changes.items() if k in _FIELD_NAMES}
        plugin_values.update({k: v for k, v in changes.items() if k not in _FIELD_NAMES})
        if "pref_challs" in kernel_changes:
            kernel_changes["pref_challs"] = normalize_challenges(kernel_changes["pref_challs"])
        return dataclasses.replace(
            self, **kernel_changes, plugin_values=plugin_values, sources=sources
        )


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(Config))
_KERNEL_TYPES = {flag.dest: flag.type for flag in FLAGS}


def _plugin_specs(manifests: Mapping[str, Manifest]) -> dict[str, Any]:
    return {opt.dest: opt for m in manifests.values() for opt in m.options}


def _coerce(kind: str, raw: Any, dest: str, origin: str) -> Any:
    """A renewal-conf value (configobj gives str, list or dict) in ``kind``."""
    if kind == "list" and isinstance(raw, list | tuple):
        return [str(v) for v in raw if str(v)]
    if kind == "map" and isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    if kind == "bool" and raw in ("None", ""):
        return None
    if raw == "None" and kind not in ("list", "map"):
        return None
    return convert_value(kind, str(raw), what=dest, origin=origin)


def build_config(
    verb: str,
    layers: list[tuple[dict[str, Any], dict[str, str]]],
    manifests: Mapping[str, Manifest],
    shortcuts: list[str],
    config_files: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
) -> Config:
    """Merge ``layers`` (lowest first: values and their sources) into a Config.

    Every layer's keys count as explicitly set; defaults are not a layer.
    Derived values (staging server, quiet => non-interactive, per-domain
    maps) are computed here so every command sees the same decisions.
    """
    env = os.environ if env is None else env
    specs = _plugin_specs(manifests)
    values: dict[str, Any] = {dest: default_of(dest) for dest in _KERNEL_TYPES}
    for dest, spec in specs.items():
        if dest not in _KERNEL_TYPES:
            values[dest] = spec.default
    sources: dict[str, str] = {}
    explicit: set[str] = set()
    pairings: dict[str, Any] = {}
    for layer_values, layer_sources in layers:
        for dest, value in layer_values.items():
            if dest == PAIRINGS:
                pairings = value
                continue
            values[dest] = value
            explicit.add(dest)
            sources[dest] = layer_sources.get(dest, SOURCE_CLI)
    if "ca_bundle" not in explicit and env.get("REQUESTS_CA_BUNDLE"):
        values["ca_bundle"] = env["REQUESTS_CA_BUNDLE"]
        sources["ca_bundle"] = "environment REQUESTS_CA_BUNDLE"
    if "store" not in explicit and env.get("CERTKERNEL_STORE"):
        values["store"] = env["CERTKERNEL_STORE"]
        sources["store"] = "environment CERTKERNEL_STORE"
    values["lock_timeout"] = parse_timeout(env.get("CERTKERNEL_LOCK_TIMEOUT"))
    values["ip_addresses"] = [ip_identifier(v) for v in values["ip_addresses"]]
    values["domains"] = dedupe([d.strip().lower() for d in values["domains"] if d.strip()]
                               + values["ip_addresses"])
    merge_per_domain(values, explicit, sources, manifests, pairings)
    select_plugins(values, shortcuts, manifests)
    resolve(verb, values, sources, explicit)
    expand_paths(values, manifests, env)
    kernel = {k: v for k, v in values.items() if k in _FIELD_NAMES and k != "verb"}
    plugin_values = {k: v for k, v in values.items() if k in specs and k not in _FIELD_NAMES}
    return Config(
        verb=verb,
        **kernel,
        plugin_values=plugin_values,
        explicit=frozenset(explicit),
        sources=sources,
        config_files=config_files,
        manifests=dict(manifests),
    )


