"""The kernel's own command-line flags, as data.

One table drives argparse, cli.ini keys, ``--help`` and the Config fields, so
the four cannot disagree.  Names, destinations and defaults follow Certbot's
(``--http-01-port`` -> ``http01_port``, ``--keep`` -> ``reinstall``,
``--force-renewal`` -> ``renew_by_default``) because renewal confs written by
Certbot store those destinations as keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LE_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
LE_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"


# Help topics in the order ``--help all`` prints them, with a one-line blurb.
TOPICS: dict[str, str] = {
    "optional": "General options",
    "automation": "Flags for automating execution & other tweaks",
    "security": "Security parameters & server settings",
    "testing": "The following flags are meant for testing and integration purposes only",
    "paths": "Flags for changing execution paths & servers",
    "run": "Options for obtaining & installing certificates",
    "certonly": "Options for modifying how a certificate is obtained",
    "renew": "Options for renewal and its hooks",
    "certificates": "Options for listing certificates",
    "delete": "Options for deleting a certificate",
    "revoke": "Options for revocation of certificates",
    "register": "Options for account registration",
    "update_account": "Options for account modification",
    "unregister": "Options for account deactivation",
    "show_account": "Options for showing account details",
    "install": "Options for modifying how a certificate is deployed",
    "rollback": "Options for rolling back server configuration changes",
    "plugins": "Plugin selection, and options of the 'plugins' subcommand",
    "update_symlinks": "Recreates certificate and key symlinks in live/",
    "enhance": "Helps to harden the TLS configuration of existing certificates",
    "reconfigure": 'Common options that may be updated with the "reconfigure" subcommand',
    "plugin-check": "Options for checking a plugin against the protocol",
    "schedule": "Automatic renewal: a systemd timer (certkernel.timer) or a cron job",
    "store": "Fleet mode: hosts sharing accounts, certificates and http-01 challenges through "
             "PostgreSQL (docs/fleet.md)",
    "responder": "The http-01 responder: serves the kernel's challenge board",
}


@dataclass(frozen=True)
class Flag:
    """One kernel flag.

    ``kind`` says how it is set: ``value`` takes an argument converted to
    ``type``; ``const`` stores ``const`` (on/off switches, where pairs such as
    ``--eff-email``/``--no-eff-email`` share a dest); ``count`` counts
    (``-v``); ``domains``/``challenges`` are the ordered, comma-splitting
    actions Certbot users rely on (``-d`` also pairs names with the plugins'
    per-domain options, see :mod:`certkernel.cmdline.cli`).
    """

    names: tuple[str, ...]
    dest: str
    kind: str = "value"
    type: str = "str"
    default: Any = None
    help: str = ""
    topic: str = "optional"
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    const: Any = True
    default_text: str | None = None
    # Saved in a lineage's [renewalparams] when the user set it, so renewals
    # repeat it (Certbot's list); conf_key when Certbot's key differs from dest.
    renew: bool = False
    conf_key: str = ""

    @property
    def long(self) -> str:
        """The first long name, used in messages and as the cli.ini key."""
        return next(n for n in self.names if n.startswith("--"))

    @property
    def takes_value(self) -> bool:
        return self.kind in ("value", "domains", "challenges", "append")


def _f(*names: str, **kw: Any) -> Flag:
    return Flag(names=names, **kw)


FLAGS: tuple[Flag, ...] = (
    # optional / general
    _f("-c", "--config", dest="config_file", metavar="CONFIG_FILE", type="path",
       help="path to config file", default_text="/etc/letsencrypt/cli.ini and ~/.config/letsencrypt/cli.ini"),
    _f("-v", "--verbose", dest="verbose_count", kind="count", type="int", default=0,
       help="This flag can be used multiple times to incrementally increase the verbosity of output, e.g. -vvv."),
    _f("--max-log-backups", dest="max_log_backups", type="int", default=1000,
       help="Maximum number of backup logs kept by the built-in log rotation; 0 disables rotation and always appends to the same log file."),
    _f("-n", "--non-interactive", "--noninteractive", dest="noninteractive_mode", kind="const",
       type="bool", default=False,
       help="Run without ever asking for user input. This may require additional command line flags; the client will explain which ones are required if it finds one missing."),
    _f("--force-interactive", dest="force_interactive", kind="const", type="bool", default=False,
       help="Force interactive mode even when not run in a terminal. Cannot be used with the renew subcommand."),
    _f("-d", "--domains", "--domain", dest="domains", kind="domains", type="list", default=[],
       metavar="DOMAIN", default_text="Ask",
       help="Domain names to apply. Use multiple -d flags or a comma separated list. The first domain is the subject CN and names the certificate's files unless --cert-name says otherwise."),
    _f("--eab-kid", dest="eab_kid", help="Key Identifier for External Account Binding"),
    _f("--eab-hmac-key", dest="eab_hmac_key", help="HMAC key for External Account Binding (never logged)"),
    _f("--cert-name", dest="certname", metavar="CERTNAME",
       default_text="the first provided domain or the name of an existing certificate for the same domains",
       help="Certificate name to apply; used for housekeeping and file paths, not in the certificate itself. See 'certkernel certificates'."),
    _f("--dry-run", dest="dry_run", kind="const", type="bool", default=False,
       help="Test 'renew' or 'certonly' against the staging server without saving any certificates to disk. Pre and post hooks run; deploy hooks do not."),
    _f("--debug-challenges", dest="debug_challenges", kind="const", type="bool", default=False,
       help="After setting up challenges, wait for user input before submitting to the CA"),
    _f("--preferred-chain", dest="preferred_chain", renew=True,
       help="If the CA offers several chains, prefer the one whose issuer Common Name matches this. If none matches, the default chain is used."),
    _f("--preferred-challenges", dest="pref_challs", renew=True, kind="challenges", type="list", default=[],
       metavar="PREF_CHALLS",
       help='A sorted, comma delimited list of preferred challenges, most preferred first (e.g. "dns" or "http,dns"). "http" means http-01, "dns" means dns-01.'),
    _f("--user-agent", dest="user_agent", renew=True,
       default_text="certkernel/VERSION (OS) Authenticator/X Installer/Y (SUBCOMMAND; flags) Py/VERSION",
       help='Set a custom user agent string for the client. Set it to "" to hide this information from the CA.'),
    _f("--user-agent-comment", dest="user_agent_comment", renew=True,
       help="Add a comment to the default user agent string (e.g. Foo-Wrapper/1.0). Ignored if --user-agent is set."),
    _f("--json", dest="json", kind="const", type="bool", default=False, topic="certificates",
       help="Print the result as JSON instead of text (renew, certificates, show_account, plugins; schemas in docs/json.md)"),
    _f("--metrics-file", dest="metrics_file", type="path", topic="renew",
       default_text="WORK_DIR/certkernel.prom",
       help='Prometheus node-exporter textfile that renew and certificates rewrite (expiry, last renewal attempt and success, ARI window start per certificate); "" turns it off'),
    _f("--plugin-user", dest="plugin_user", renew=True, metavar="USER[:GROUP]",
       help="Run plugins as this user (and group) instead of the user running certkernel"),
    # automation
    _f("--keep-until-expiring", "--keep", "--reinstall", dest="reinstall", kind="const", type="bool",
       default=False, topic="automation", default_text="Ask",
       help="If the requested certificate matches an existing one, keep the existing one until it is due for renewal (for 'run', reinstall it)."),
    _f("--expand", dest="expand", kind="const", type="bool", default=False, topic="automation",
       default_text="Ask",
       help="If an existing certificate is a strict subset of the requested names, expand and replace it with the additional names."),
    _f("--force-renewal", "--renew-by-default", dest="renew_by_default", kind="const", type="bool",
       default=False, topic="automation",
       help="Renew now a certificate that already exists for the requested domains, regardless of its expiry. Implies --expand."),
    _f("--renew-with-new-domains", dest="renew_with_new_domains", kind="const", type="bool",
       default=False, topic="automation",
       help="Renew now a certificate whose name exists but whose domains differ from the requested ones."),
    _f("--reuse-key", dest="reuse_key", renew=True, kind="const", type="bool", default=False, topic="automation",
       help="When renewing, use the same private key as the existing certificate."),
    _f("--allow-subset-of-names", dest="allow_subset_of_names", renew=True, kind="const", type="bool",
       default=False, topic="automation",
       help="Do not fail when authorizations can be obtained only for a strict subset of the requested domains. Cannot be used with --csr."),
    _f("--agree-tos", dest="tos", kind="const", type="bool", default=False, topic="automation",
       default_text="Ask", help="Agree to the ACME Subscriber Agreement"),
    _f("--duplicate", dest="duplicate", kind="const", type="bool", default=False, topic="automation",
       help="Allow making a certificate lineage that duplicates an existing one (both can be renewed in parallel)"),
    _f("-q", "--quiet", dest="quiet", kind="const", type="bool", default=False, topic="automation",
       help="Silence all output except errors. Useful for automation via cron. Implies --non-interactive."),
    _f("--no-random-sleep-on-renew", dest="random_sleep_on_renew", kind="const", type="bool",
       const=False, default=True, topic="automation",
       help="Do not sleep a random delay before renewing when run unattended"),
    # security
    _f("--key-type", dest="key_type", choices=("rsa", "ecdsa"), default="ecdsa", topic="security",
       help="Type of generated private key"),
    _f("--rsa-key-size", dest="rsa_key_size", renew=True, type="int", default=2048, metavar="N",
       topic="security", help="Size of the RSA key."),
    _f("--elliptic-curve", dest="elliptic_curve", renew=True, choices=("secp256r1", "secp384r1", "secp521r1"),
       default="secp256r1", metavar="N", topic="security",
       help="The SECG elliptic curve name to use for ECDSA keys."),
    _f("--must-staple", dest="must_staple", renew=True, kind="const", type="bool", default=False,
       topic="security",
       help="Add the OCSP Must-Staple extension to the certificate (Let's Encrypt no longer supports it)."),
    _f("--redirect", dest="redirect", renew=True, kind="const", type="bool", topic="security",
       default_text="redirect enabled for install and run, disabled for enhance",
       help="Automatically redirect all HTTP traffic to HTTPS for the newly authenticated vhost."),
    _f("--no-redirect", dest="redirect", renew=True, kind="const", type="bool", const=False, topic="security",
       default_text="redirect enabled for install and run, disabled for enhance",
       help="Do not automatically redirect all HTTP traffic to HTTPS for the newly authenticated vhost."),
    _f("--hsts", dest="hsts", renew=True, kind="const", type="bool", topic="security",
       help="Add the Strict-Transport-Security header to every HTTP response."),
    _f("--uir", dest="uir", renew=True, kind="const", type="bool", topic="security",
       help='Add the "Content-Security-Policy: upgrade-insecure-requests" header to every HTTP response.'),
    _f("--staple-ocsp", dest="staple", renew=True, kind="const", type="bool", topic="security",
       help="Enable OCSP stapling in the installed server configuration."),
    _f("--auto-hsts", dest="auto_hsts", kind="const", type="bool", default=False, topic="security",
       help="Gradually increasing max-age value for the HTTP Strict Transport Security header"),
    _f("--strict-permissions", dest="strict_permissions", kind="const", type="bool", default=False,
       topic="security",
       help="Require that all configuration files are owned by the current user"),
    # testing
    _f("--test-cert", "--staging", dest="staging", kind="const", type="bool", default=False,
       topic="testing", help=f"Use the staging server to obtain or revoke test (invalid) certificates; equivalent to --server {LE_STAGING}"),
    _f("--debug", dest="debug", kind="const", type="bool", default=False, topic="testing",
       help="Show tracebacks in case of errors"),
    _f("--no-verify-ssl", dest="no_verify_ssl", renew=True, kind="const", type="bool", default=False,
       topic="testing", help="Disable verification of the ACME server's certificate."),
    _f("--ca-bundle", dest="ca_bundle", renew=True, type="path", topic="testing",
       help="PEM file of CA certificates trusted for the ACME server (for private CAs). REQUESTS_CA_BUNDLE is honoured when unset."),
    _f("--http-01-port", dest="http01_port", renew=True, type="int", default=80, topic="testing",
       help="Port used in the http-01 challenge. This only affects the port certkernel listens on; a conforming ACME server still connects on port 80."),
    _f("--http-01-address", dest="http01_address", renew=True, default="", topic="testing",
       help="The address the server listens to during http-01 challenge."),
    _f("--https-port", dest="https_port", renew=True, type="int", default=443, topic="testing",
       help="Port used to serve HTTPS. This affects which port installers configure."),
    _f("--break-my-certs", dest="break_my_certs", kind="const", type="bool", default=False,
       topic="testing",
       help="Be willing to replace or renew valid certificates with invalid (testing/staging) certificates"),
    # paths
    _f("--cert-path", dest="cert_path", type="path", topic="paths",
       help="Path to where certificate is saved (with certonly --csr), installed from, or revoked."),
    _f("--key-path", dest="key_path", type="path", topic="paths",
       help="Path to private key for certificate installation or revocation (if account key is missing)"),
    _f("--fullchain-path", dest="fullchain_path", type="path", topic="paths",
       help="Accompanying path to a full certificate chain (certificate plus chain)."),
    _f("--chain-path", dest="chain_path", type="path", topic="paths",
       help="Accompanying path to a certificate chain."),
    _f("--config-dir", dest="config_dir", type="path", default="/etc/letsencrypt", topic="paths",
       help="Configuration directory."),
    _f("--work-dir", dest="work_dir", type="path", default="/var/lib/letsencrypt", topic="paths",
       help="Working directory."),
    _f("--logs-dir", dest="logs_dir", type="path", default="/var/log/letsencrypt", topic="paths",
       help="Logs directory."),
    _f("--server", dest="server", default=LE_PRODUCTION, topic="paths",
       help="ACME Directory Resource URI."),
    # certonly
    _f("--csr", dest="csr", type="path", topic="certonly",
       help="Path to a Certificate Signing Request (CSR) in DER or PEM format. Only works with the 'certonly' subcommand."),
    # renew
    _f("--pre-hook", dest="pre_hook", renew=True, topic="renew",
       help="Command to be run in a shell before obtaining any certificates; only when a certificate is actually obtained, once per distinct command."),
    _f("--post-hook", dest="post_hook", renew=True, topic="renew",
       help="Command to be run in a shell after attempting to obtain/renew certificates; once per distinct command."),
    _f("--deploy-hook", "--renew-hook", dest="deploy_hook", renew=True, conf_key="renew_hook", topic="renew",
       help="Command to be run in a shell once for each successfully issued certificate, with $RENEWED_LINEAGE (the live/ folder) and $RENEWED_DOMAINS (space separated) set."),
    _f("--disable-hook-validation", dest="validate_hooks", kind="const", type="bool", const=False,
       default=True, topic="renew",
       help="Do not check that the programs named by --pre-hook/--post-hook/--deploy-hook are on PATH."),
    _f("--no-directory-hooks", dest="directory_hooks", kind="const", type="bool", const=False,
       default=True, topic="renew",
       help="Disable running executables found in the renewal-hooks/ directories during renewal."),
    _f("--disable-renew-updates", dest="disable_renew_updates", kind="const", type="bool",
       default=False, topic="renew",
       help="Disable automatic updates to your server configuration done by the installer on renew."),
    _f("--no-autorenew", dest="autorenew", kind="const", type="bool", const=False, default=True,
       topic="renew", help="Disable auto renewal of certificates."),
    # revoke
    _f("--reason", dest="reason", topic="revoke", default="unspecified",
       choices=("unspecified", "keycompromise", "affiliationchanged", "superseded",
                "cessationofoperation"),
       help="Specify reason for revoking certificate."),
    _f("--delete-after-revoke", dest="delete_after_revoke", kind="const", type="bool",
       topic="revoke",
       help="Delete certificates after revoking them, along with all their other versions."),
    _f("--no-delete-after-revoke", dest="delete_after_revoke", kind="const", type="bool",
       const=False, topic="revoke",
       help="Do not delete certificates after revoking them ('renew' will try to renew them)."),
    # register
    _f("--register-unsafely-without-email", dest="register_unsafely_without_email", kind="const",
       type="bool", default=False, topic="register",
       help="Register an account with no email address (strongly discouraged: no notices about expiry, revocation or key loss)."),
    _f("-m", "--email", dest="email", topic="register", default_text="Ask",
       help="Email used for registration and recovery contact. Use comma to register multiple emails, ex: u1@example.com,u2@example.com."),
    _f("--eff-email", dest="eff_email", kind="const", type="bool", topic="register",
       help="Share your e-mail address with EFF"),
    _f("--no-eff-email", dest="eff_email", kind="const", type="bool", const=False, topic="register",
       help="Don't share your e-mail address with EFF"),
    # unregister / accounts
    _f("--account", dest="account", metavar="ACCOUNT_ID", topic="unregister",
       help="Account ID to use"),
    # rollback
    _f("--checkpoints", dest="checkpoints", type="int", default=1, metavar="N", topic="rollback",
       help="Revert configuration N number of checkpoints."),
    # plugins subcommand and plugin selection
    _f("--init", dest="init", kind="const", type="bool", default=False, topic="plugins",
       help="Initialize plugins."),
    _f("--prepare", dest="prepare", kind="const", type="bool", default=False, topic="plugins",
       help="Initialize and prepare plugins."),
    _f("--authenticators", dest="authenticators", kind="const", type="bool", default=False,
       topic="plugins", help="Limit to authenticator plugins only."),
    _f("--installers", dest="installers", kind="const", type="bool", default=False,
       topic="plugins", help="Limit to installer plugins only."),
    _f("--configurator", dest="configurator", topic="plugins", default_text="Ask",
       help="Name of the plugin that is both an authenticator and an installer. Should not be used together with --authenticator or --installer."),
    _f("-a", "--authenticator", dest="authenticator", topic="plugins",
       help="Authenticator plugin name."),
    _f("-i", "--installer", dest="installer", topic="plugins",
       help="Installer plugin name (also used to find domains)."),
    # Certbot 2.x-5.x flags (kept together: profiles, IP identifiers, key and hook switches)
    _f("--ip-address", dest="ip_addresses", kind="append", type="list", default=[],
       metavar="IP_ADDRESS",
       help="IP addresses to include. Use multiple --ip-address flags for several; each becomes an IP Subject Alternative Name on the certificate."),
    _f("--eab-hmac-alg", dest="eab_hmac_alg", choices=("HS256", "HS384", "HS512"),
       default="HS256", metavar="EAB_HMAC_ALG",
       help="HMAC algorithm for External Account Binding (HS256, HS384 or HS512)."),
    _f("--preferred-profile", dest="preferred_profile", renew=True, topic="certonly",
       help="Ask the CA for this certificate profile if its directory offers it; otherwise fall back to the CA's default profile. Saved for renewal."),
    _f("--required-profile", dest="required_profile", renew=True, topic="certonly",
       help="Ask the CA for this certificate profile and fail if it is not offered, instead of falling back. Saved for renewal."),
    _f("--issuance-timeout", dest="issuance_timeout", type="int", default=90, metavar="SECONDS",
       topic="certonly",
       help="How long to wait for the CA to validate and issue a certificate, in seconds."),
    _f("--no-reuse-key", dest="reuse_key", renew=True, kind="const", type="bool", const=False,
       topic="automation",
       help="When renewing, do not reuse the existing private key (the default). Use it to unset --reuse-key on an existing certificate."),
    _f("--new-key", dest="new_key", kind="const", type="bool", default=False, topic="automation",
       help="When renewing or replacing a certificate, make a new private key even if --reuse-key is set on it. With --reuse-key, the new key is then reused by later renewals."),
    # fleet mode
    _f("--store", dest="store", metavar="URL", topic="store",
       default_text="none: the local layout under --config-dir; environment CERTKERNEL_STORE",
       help="Fleet mode: keep accounts, certificates and pending http-01 challenges in this PostgreSQL database (postgresql://USER@HOST:PORT/DATABASE, no password in it) and copy them into --config-dir, so several hosts renew each certificate once."),
    _f("--store-password-file", dest="store_password_file", type="path", topic="store",
       metavar="FILE",
       help="File holding the password of the --store URL's database role (chmod 600); never put it in the URL."),
    _f("--store-key-file", dest="store_key_file", type="path", topic="store", metavar="FILE",
       help="File holding the fleet's key (32 random bytes, base64) that seals private keys in the store; the same on every host, never in the database. Make one with: head -c 32 /dev/urandom | base64"),
    # the http-01 responder (certkernel.commands.responder)
    _f("--listen", dest="responder_listen", metavar="ADDR:PORT", topic="responder",
       help="Where 'certkernel responder' listens for the CA's http-01 requests, e.g. 0.0.0.0:80 or [::]:80 (required for that command)."),
    _f("--responder-user", dest="responder_user", metavar="USER[:GROUP]", topic="responder",
       default_text="_certkernel when run as root",
       help="The user 'certkernel responder' runs as once it has bound its port and opened the challenge board; 'root' keeps root (not recommended)."),
    _f("--run-deploy-hooks", dest="run_deploy_hooks", kind="const", type="bool", default=False,
       topic="testing",
       help="With --dry-run or reconfigure, run the deploy hooks (command line, saved, and renewal-hooks/deploy unless --no-directory-hooks) after a successful test, on the current certificate, not the test one."),
)

FLAGS_BY_DEST: dict[str, list[Flag]] = {}
for _flag in FLAGS:
    FLAGS_BY_DEST.setdefault(_flag.dest, []).append(_flag)
del _flag


def default_of(dest: str) -> Any:
    """The built-in default of a kernel dest (a fresh copy for lists/maps)."""
    value = FLAGS_BY_DEST[dest][0].default
    if isinstance(value, list | dict):
        return type(value)(value)
    return value
