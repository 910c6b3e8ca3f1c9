"""Names the dead-code check cannot see being used (read by vulture, never imported).

scripts/test.sh runs ``vulture`` over the production code with this file.
Vulture only sees calls written in our own source; each entry below is used
some other way, and says how. Anything else vulture reports is dead: remove it
rather than listing it here.
"""

from typing import Any

_: Any = None

# -- called by name by the standard library or a third-party library ---------
_.do_GET  # http.server dispatches do_<METHOD> (plugins/standalone/server.py)
_.do_HEAD  # same
_.log_message  # http.server's logging hook, overridden to keep request lines out of stderr
_.server_version  # http.server reads it for the Server header
_.sys_version  # same (empty: no Python version on the wire)
_.trust_env  # requests.Session attribute we set (acme_session.py)
_.filename  # configobj.ConfigObj attribute we set to stop it writing by itself
_.option_string  # argparse.Action.__call__ signature (kernel/cmdline/cli.py)
_.exc_type  # __exit__ signature (kernel/checkpoints/reverter.py)
_.tb  # same
_.failed_names  # pluggy hookspec argument name: part of the public events interface

# -- plugin entry points, loaded from "module:attr" strings -------------------
# sdk/python/server.py getattr()s the attr named by the plugin's __main__ or by
# plugins/dns/providers.py; the built-in manifests name these.
_.Manual
_.NginxPlugin
_.NullInstaller
_.FleetHttp
_.Standalone
_.Webroot
_.cloudflare
_.cloudxns
_.digitalocean
_.dnsimple
_.dnsmadeeasy
_.gehirn
_.google
_.linode
_.luadns
_.nsone
_.ovh
_.route53
_.sakuracloud

# -- public API for plugin authors and SDK implementers (docs/internals.md) ---
_.storage_delete  # certkernel.sdk Kernel: plugins call it
_.checkpoint_rollback  # same
_.check_strict  # protocol registry: checks what a sender writes (tests/protocol, vectors)
_.discover  # plugin_host.discovery's one-call API (internals.md); tests use it, the kernel
#             calls discover_all and report separately to keep the Discovery

# -- dataclass fields read by name (getattr/asdict/JSON) rather than as .attr -
_.config_file  # Config: filled and read by flag dest (Config.get / setattr)
_.strict_permissions  # same
_.webroot_map  # same
_.ip_addresses  # same
_.days_left  # certificates --json output (asdict)
_.dismod  # ApacheOptions: Certbot's --apache-dismod, accepted and kept
_.logs_root  # ApacheOptions: Certbot's --apache-logs-root, accepted and kept
_.env_foreign  # Manifest: checked at load (_check_env); tests/cli/test_manifest_env.py reads it
_.visible  # dns propagation result: the log line says it; tests/dns assert it

# -- state kept for logs, benchmarks and tests --------------------------------
_.last_order  # Issuance: tests/acme read the order's authorizations
_.total_bytes  # plugin_host.process stderr drain: tests/host prove it keeps reading
_.reaper  # plugin_host.lifetime: holds the reaper Popen so it is not collected

# -- named by string, or used only through the enum's values ----------------
_.with_checked_manifest  # verbs.REGISTRY names it as "certkernel.runtime.plugin_target:..." (loaded lazily)
_.INSTALL  # ScheduleAction: the parsed first argument; install is the fall-through branch
_.PgBoard  # fleet mode's ChallengeBoard (kernel/fleet/board.py): the responder and -a fleet-http use it
_.withdraw  # ChallengeBoard.withdraw: called by the fleet-http authenticator's cleanup
