"""``certkernel reconfigure --cert-name NAME [options]``: change how a lineage renews.

Certbot 2.3's subcommand. The new settings (authenticator, hooks, key
parameters, profile...) are merged over the lineage's renewal conf and
tried with a dry-run renewal against the lineage's own CA first; the conf
is rewritten only when that test succeeds, so a typo in a webroot path or
a hook never reaches the unattended renewal. Nothing is issued for real and
the certificate is not touched. The names, the CA and the account cannot
be changed here (that needs a new certificate).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from certkernel import errors
from certkernel.ca.acme_setup import effective_server
from certkernel.config import Config
from certkernel.display import Display, say
from certkernel.flows.obtain import renewal_params
from certkernel.lineages.lineage_find import scan
from certkernel.lineages.named_lineage import lineage_config
from certkernel.lineages.storage import Lineage
from certkernel.lineages.store_choice import store_for
from certkernel.lock import held
from certkernel.renewal.renew_flow import renew_due
from certkernel.renewal.renew_result import Status
from certkernel.renewal.renewal_plan import Plan

_DOMAINS_REFUSED = (
    "You have specified domains, but reconfigure cannot change the names in a certificate. "
    "To change them, run certonly with --cert-name and the new -d list. Otherwise, remove "
    "the domains and name the certificate with --cert-name.")
_SERVER_REFUSED = (
    "Using reconfigure to change the ACME account or server is not supported. To do so, "
    "use renew (or certonly) with --force-renewal instead; note that it counts against the "
    "CA's rate limits.")


def _certname(config: Config, display: Display) -> str:
    if config.certname:
        return config.certname
    names = sorted(lineage.name for lineage in scan(config.config_dir, repair=False).lineages)
    if not names:
        raise errors.ConfigurationError("No certificates found to reconfigure.")
    if not display.interactive:
        raise errors.MissingFlag(
            "reconfigure needs --cert-name (see 'certkernel certificates' for the names)")
    ok, index = display.menu("Which certificate would you like to reconfigure?", names,
                             cli_flag="--cert-name")
    if not ok:
        raise errors.Error("Operation canceled.")
    return names[index]


def _check_unchanged(config: Config, params: dict[str, Any]) -> None:
    """The CA and the account belong to the certificate: refuse to change them here."""
    if config.is_set("server") and effective_server(config) != params.get("server"):
        raise errors.ConfigurationError(_SERVER_REFUSED)
    if config.is_set("account") and config.account != params.get("account"):
        raise errors.ConfigurationError(_SERVER_REFUSED)


def new_params(config: Config, lineage: Lineage) -> dict[str, Any]:
    """The ``[renewalparams]`` after this run: the saved ones under what the user set now."""
    old: dict[str, Any] = dict(lineage.renewalparams.as_dict())
    cfg = lineage_config(config, lineage)
    auth_name = cfg.authenticator or cfg.configurator
    if not auth_name:
        raise errors.ConfigurationError(
            f"{lineage.renewal_conf_path} names no authenticator; give one with -a PLUGIN")
    installer = cfg.installer if cfg.installer not in (None, "None", "") else None
    params = dict(old)
    params.update(renewal_params(cfg, str(old.get("account", "")), str(old.get("server", "")),
                                 auth_name, installer))
    if config.is_set("authenticator") or config.is_set("configurator") or \
            config.is_set("installer"):
        params = _drop_other_plugin_options(params, cfg, {auth_name, installer or ""})
    return params


def _drop_other_plugin_options(params: dict[str, Any], cfg: Config,
                               keep: set[str]) -> dict[str, Any]:
    """When the plugin changes, the old plugin's saved options go (they would be stray)."""
    dropped = {opt.dest for name, manifest in cfg.manifests.items() if name not in keep
               for opt in manifest.options}
    kept_dests = {opt.dest for name in keep if name in cfg.manifests
                  for opt in cfg.manifests[name].options}
    return {k: v for k, v in params.items() if k not in dropped or k in kept_dests}


def run(config: Config) -> int:
    display = Display.from_config(config)
    if config.domains:
        raise errors.ConfigurationError(_DOMAINS_REFUSED)
    name = _certname(config, display)
    conf = os.path.join(config.config_dir, "renewal", f"{name}.conf")
    if not os.path.exists(conf):
        raise errors.ConfigurationError(
            f"An existing certificate with name {name} could not be found. Run "
            "'certkernel certificates' to list available certificates.")
    lineage = Lineage.load(config.config_dir, name)
    old = dict(lineage.renewalparams.as_dict())
    _check_unchanged(config, old)
    if config.deploy_hook and not config.run_deploy_hooks and display.interactive:
        run_hooks = display.yesno(
            "You are attempting to set a --deploy-hook. Would you like certkernel to run "
            "deploy hooks when it performs a dry run with the new settings? This runs every "
            "relevant deploy hook, including directory hooks unless --no-directory-hooks is "
            "set, on the current certificate (not the test one).",
            "Run deploy hooks", "Do not run deploy hooks", default=False)
        config = dataclasses.replace(config, run_deploy_hooks=run_hooks)
    params = new_params(config, lineage)  # fails early on a missing authenticator
    trial = dataclasses.replace(config, dry_run=True, noninteractive_mode=True,
                                certname=name, verb="reconfigure")
    say(config, f"Simulating renewal of {name} with the new settings (dry run).")
    results = renew_due(trial, Plan(due=[lineage]))
    failed = [r for r in results if r.status != Status.RENEWED]
    if failed or not results:
        reason = failed[0].reason if failed else "no renewal was attempted"
        raise errors.Error(
            f"The dry run with the new settings failed, so the renewal configuration of "
            f"{name} was not changed: {reason}")
    if params == old:
        say(config, "\nNo changes were made to the renewal configuration.")
        return 0
    store = store_for(config)
    with held(store.lock(name)):
        store.save_renewalparams(store.load(name), params)
    say(config, "\nSuccessfully updated configuration.\n"
                "Changes will apply when the certificate renews.")
    return 0
