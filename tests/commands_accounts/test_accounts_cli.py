"""register, update_account, show_account, unregister through the CLI against Pebble."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import requests

from certkernel.ca.accounts import server_path
from tests.infra.cli_run import Dirs, ck, failed, ok
from tests.infra.pebble import Pebble


def account_dirs(dirs: Dirs, pebble: Pebble) -> list[Path]:
    root = dirs.config / "accounts" / server_path(pebble.directory_url)
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def test_register_saves_certbot_layout_and_ca_has_emails(dirs: Dirs, pebble: Pebble) -> None:
    result = ok(ck(dirs, "register", "--agree-tos", "-m", "a@example.org,b@example.org",
                   "--no-eff-email", pebble=pebble))
    assert "Account registered." in result.stdout
    [acct] = account_dirs(dirs, pebble)
    assert sorted(p.name for p in acct.iterdir()) == ["meta.json", "private_key.json", "regr.json"]
    assert stat.S_IMODE(os.stat(acct / "private_key.json").st_mode) == 0o400
    regr = json.loads((acct / "regr.json").read_text())
    assert regr["uri"].startswith(pebble.directory_url.rsplit("/", 1)[0])
    assert json.loads((acct / "meta.json").read_text())["register_to_eff"] == "false"
    assert regr["uri"] in result.stdout
    shown = ok(ck(dirs, "show_account", pebble=pebble)).stdout
    assert f"Account URL: {regr['uri']}" in shown
    assert "Email contacts: a@example.org, b@example.org" in shown


def test_second_register_is_refused_and_keeps_the_first(dirs: Dirs, pebble: Pebble) -> None:
    ok(ck(dirs, "register", "--agree-tos", "--register-unsafely-without-email", pebble=pebble))
    before = account_dirs(dirs, pebble)
    err = failed(ck(dirs, "register", "--agree-tos", "-m", "x@example.org", pebble=pebble))
    assert "There is an existing account; registration of a duplicate account" in err
    assert len(err.strip().splitlines()) == 1
    assert account_dirs(dirs, pebble) == before
    shown = ok(ck(dirs, "show_account", pebble=pebble)).stdout
    assert "Email contact: none" in shown


def test_register_non_interactive_needs_tos_and_email(dirs: Dirs, pebble: Pebble) -> None:
    err = failed(ck(dirs, "register", pebble=pebble))
    assert "provide --agree-tos and --email <email_address> flags" in err
    assert account_dirs(dirs, pebble) == []
    err = failed(ck(dirs, "register", "-m", "a@example.org", pebble=pebble))
    assert "--agree-tos" in err
    assert account_dirs(dirs, pebble) == []


def test_register_interactive_answers(dirs: Dirs, pebble: Pebble) -> None:
    result = ck(dirs, "register", pebble=pebble, interactive=True,
                stdin="typed@example.org\ny\n")
    ok(result)
    shown = ok(ck(dirs, "show_account", pebble=pebble)).stdout
    assert "Email contact: typed@example.org" in shown


def test_update_account_changes_contacts_at_the_ca(dirs: Dirs, pebble: Pebble) -> None:
    ok(ck(dirs, "register", "--agree-tos", "-m", "old@example.org", pebble=pebble))
    [acct] = account_dirs(dirs, pebble)
    regr_before = json.loads((acct / "regr.json").read_text())
    result = ok(ck(dirs, "update_account", "-m", "new1@example.org,new2@example.org",
                   pebble=pebble))
    assert "Your e-mail address was updated to new1@example.org,new2@example.org." in result.stdout
    shown = ok(ck(dirs, "show_account", pebble=pebble)).stdout
    assert "Email contacts: new1@example.org, new2@example.org" in shown
    assert json.loads((acct / "regr.json").read_text())["uri"] == regr_before["uri"]
    result = ok(ck(dirs, "update_account", "-m", "", pebble=pebble))
    assert "contact information associated with this account has been removed" in result.stdout
    assert "Email contact: none" in ok(ck(dirs, "show_account", pebble=pebble)).stdout


def test_update_account_without_email_or_account(dirs: Dirs, pebble: Pebble) -> None:
    err = failed(ck(dirs, "update_account", "-m", "a@example.org", pebble=pebble))
    assert "Could not find an existing account to update." in err
    ok(ck(dirs, "register", "--agree-tos", "-m", "a@example.org", pebble=pebble))
    err = failed(ck(dirs, "update_account", pebble=pebble))
    assert "--email" in err
    err = failed(ck(dirs, "update_account", "--register-unsafely-without-email", pebble=pebble))
    assert "a new e-mail address must currently be provided" in err


def test_unregister_deactivates_at_ca_and_deletes_locally(dirs: Dirs, pebble: Pebble) -> None:
    ok(ck(dirs, "register", "--agree-tos", "-m", "gone@example.org", pebble=pebble))
    [acct] = account_dirs(dirs, pebble)
    key_file = (acct / "private_key.json").read_text()
    result = ok(ck(dirs, "unregister", pebble=pebble))
    assert "Account deactivated." in result.stdout
    assert account_dirs(dirs, pebble) == []
    err = failed(ck(dirs, "show_account", pebble=pebble))
    assert "Could not find an existing account" in err
    assert deactivated_at_ca(pebble, key_file)


def deactivated_at_ca(pebble: Pebble, key_json: str) -> bool:
    """Look the key up at the CA with onlyReturnExisting: a deactivated account is refused."""
    import josepy as jose
    from acme import client as acme_client
    from acme import errors as acme_errors
    from acme import messages

    key = jose.JWK.json_loads(key_json)
    net = acme_client.ClientNetwork(key, alg=jose.ES256, verify_ssl=pebble.ca_bundle)
    directory = messages.Directory.from_json(
        requests.get(pebble.directory_url, verify=pebble.ca_bundle, timeout=10).json())
    client = acme_client.ClientV2(directory, net)
    try:
        client.new_account(messages.NewRegistration(only_return_existing=True))
    except acme_errors.Error as exc:
        return "deactivated" in str(exc).lower()
    return False


def test_unregister_interactive_abort_keeps_account(dirs: Dirs, pebble: Pebble) -> None:
    ok(ck(dirs, "register", "--agree-tos", "-m", "keep@example.org", pebble=pebble))
    err = failed(ck(dirs, "unregister", pebble=pebble, interactive=True, stdin="n\n"))
    assert "Deactivation aborted." in err
    assert len(account_dirs(dirs, pebble)) == 1
    assert "keep@example.org" in ok(ck(dirs, "show_account", pebble=pebble)).stdout


def test_unregister_unknown_account_id(dirs: Dirs, pebble: Pebble) -> None:
    err = failed(ck(dirs, "unregister", pebble=pebble))
    assert "Could not find existing account to deactivate." in err
    ok(ck(dirs, "register", "--agree-tos", "-m", "k@example.org", pebble=pebble))
    err = failed(ck(dirs, "unregister", "--account", "0123abcd", pebble=pebble))
    assert "0123abcd" in err
    assert len(account_dirs(dirs, pebble)) == 1


def test_register_with_eab(dirs: Dirs, pebble_factory: Callable[..., Pebble]) -> None:
    hmac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
    eab = pebble_factory(eab_keys={"kid-1": hmac})
    err = failed(ck(dirs, "register", "--agree-tos", "-m", "e@example.org", pebble=eab))
    assert "External Account Binding" in err
    assert account_dirs(dirs, eab) == []
    err = failed(ck(dirs, "register", "--agree-tos", "-m", "e@example.org", "--eab-kid",
                    "kid-1", "--eab-hmac-key", "A" * 64, pebble=eab))
    assert account_dirs(dirs, eab) == []
    ok(ck(dirs, "register", "--agree-tos", "-m", "e@example.org", "--eab-kid", "kid-1",
          "--eab-hmac-key", hmac, pebble=eab))
    assert len(account_dirs(dirs, eab)) == 1
    assert "e@example.org" in ok(ck(dirs, "show_account", pebble=eab)).stdout
