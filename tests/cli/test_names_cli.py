"""Attack 7 of issue 12: an IPv6 scope id smuggled into a name.

Python's ``ipaddress`` accepts any text after ``%`` in an IPv6 literal, so
``-d 'fe80::1%$(id)'`` (or one with spaces and a newline) used to become a
certificate name that travelled into logs, hook environments and file names.
The real console script must refuse it with one line, before any network
call: the ACME server given here is a closed loopback port, so reaching it
would be a different error.
"""

from __future__ import annotations

import json

import pytest

from .conftest import Env

CLOSED = "http://127.0.0.1:9/directory"
REFUSED = "IPv6 scope ids ('%' and what follows) are not allowed; give the address without one"


def certonly(cli_env: Env, *args: str) -> tuple[int, str]:
    result = cli_env.run("certonly", "-n", "--agree-tos", "-m", "a@example.org",
                         "--server", CLOSED, *cli_env.dirs, *args)
    return result.returncode, result.stderr


@pytest.mark.parametrize("name", ["fe80::1%$(id)", "fe80::1%a b\nc", "[fe80::1%eth0]"])
def test_scope_id_in_a_domain_flag_is_one_clear_line(cli_env: Env, name: str) -> None:
    code, stderr = certonly(cli_env, "--standalone", "-d", name)
    assert code == 1
    assert stderr.strip() == f"Invalid name {name!r}: {REFUSED}"
    assert not (cli_env.root / "etc").exists(), "nothing was written for a refused name"


def test_scope_id_in_a_webroot_map_is_refused(cli_env: Env) -> None:
    www = cli_env.root / "www"
    www.mkdir()
    code, stderr = certonly(cli_env, "--webroot",
                            "--webroot-map", json.dumps({"fe80::1%$(id)": str(www)}))
    assert code == 1
    assert stderr.strip() == f"Invalid name 'fe80::1%$(id)': {REFUSED}"
    assert list(www.iterdir()) == []


def test_the_same_address_without_a_scope_id_gets_past_name_checks(cli_env: Env) -> None:
    code, stderr = certonly(cli_env, "--standalone", "-d", "fe80::1")
    assert code == 1
    assert stderr.strip().startswith(f"Could not fetch the ACME directory {CLOSED}")
