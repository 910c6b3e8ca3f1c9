"""Which kernel flags a lineage's renewal conf keeps is declared on the flag itself.

Plugin options (``webroot_path``, ``[[webroot_map]]``...) are saved by another
rule, Certbot's too: every option of the lineage's plugins the user set
(tests/plugins/test_certonly_e2e.py, tests/e2e_thirdparty).
"""

from __future__ import annotations

from certkernel.cmdline.cli_flags import FLAGS

# Certbot 1.7's renewal.py: the [renewalparams] a renewal repeats when the
# user set them (deploy_hook is saved under Certbot's older key renew_hook),
# plus certkernel's own plugin_user and ACME profiles. Certbot's list also
# has webroot_path and webroot_map: here those are the webroot plugin's options.
CERTBOT_RENEWAL_KEYS = {
    "rsa_key_size", "elliptic_curve", "must_staple", "allow_subset_of_names", "reuse_key",
    "pref_challs", "http01_port", "http01_address", "https_port", "preferred_chain",
    "user_agent", "user_agent_comment", "pre_hook", "post_hook", "renew_hook",
    "no_verify_ssl", "ca_bundle", "plugin_user",
    "redirect", "hsts", "uir", "staple", "preferred_profile", "required_profile",
}


def test_flags_declaring_renew_are_exactly_certbots_renewal_params() -> None:
    keys = {f.conf_key or f.dest for f in FLAGS if f.renew}
    assert keys == CERTBOT_RENEWAL_KEYS


def test_flags_sharing_a_dest_agree_on_persisting_it() -> None:
    # --redirect/--no-redirect share a dest: one must not save what the other drops.
    by_dest: dict[str, set[tuple[bool, str]]] = {}
    for flag in FLAGS:
        by_dest.setdefault(flag.dest, set()).add((flag.renew, flag.conf_key))
    assert {d: v for d, v in by_dest.items() if len(v) > 1} == {}
