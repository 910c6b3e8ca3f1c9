"""The standalone plugin as a process: real sockets, real HTTP requests."""

from __future__ import annotations

import http.client
import socket

import pytest

from certkernel import errors

from .conftest import free_port, http01, manifest


def fetch(host: str, port: int, path: str, method: str = "GET") -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request(method, path, headers={"Host": "a.example"})
        resp = conn.getresponse()
        return resp.status, resp.read(), dict(resp.getheaders())
    finally:
        conn.close()


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "taken"
        if ":" in host:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def test_manifest_matches_certbot_and_asks_for_sockets():
    m = manifest("standalone")
    assert m.description == "Spin up a temporary webserver"
    assert m.roles == ("authenticator",)
    assert m.challenges == ("http-01",)
    assert m.needs["http01_sockets"] is True
    assert m.argv("/py") == ["/py", "-m", "certkernel.plugins.standalone"]


def test_handed_over_socket_serves_token_and_nothing_else(start):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    try:
        auth = start("standalone", fds={"http01_sockets": [listener.fileno()]},
                     settings={"http01_port": 1})  # must not bind: the socket is given
        assert auth.get_chall_pref("a.example") == ["http-01"]
        auth.prepare()
        one, two = http01("a.example", "tokenONE_-1"), http01("b.example", "tokenTWO")
        auth.perform([one, two])
        status, body, _ = fetch("127.0.0.1", port, one.uri_path)
        assert (status, body) == (200, b"tokenONE_-1.thumbprint")
        assert fetch("127.0.0.1", port, two.uri_path)[:2] == (200, b"tokenTWO.thumbprint")
        status, body, headers = fetch("127.0.0.1", port, one.uri_path, "HEAD")
        assert status == 200 and body == b""
        assert headers["Content-Length"] == str(len(one.key_authorization))
        for other in ("/", "/.well-known/acme-challenge/unknown",
                      "/.well-known/acme-challenge/", "/x/.well-known/acme-challenge/tokenTWO",
                      one.uri_path + "/extra"):
            assert fetch("127.0.0.1", port, other)[0] == 404, other
        auth.cleanup([one])
        assert fetch("127.0.0.1", port, one.uri_path)[0] == 404
        assert fetch("127.0.0.1", port, two.uri_path)[0] == 200
        auth.cleanup([two])
        # A second order in the same run reuses the handed-over socket.
        three = http01("c.example", "tokenTHREE")
        auth.perform([three])
        assert fetch("127.0.0.1", port, three.uri_path)[:2] == (200, b"tokenTHREE.thumbprint")
        auth.cleanup([three])
    finally:
        listener.close()


def test_self_bound_on_given_address_and_port_is_released(start):
    port = free_port()
    auth = start("standalone", settings={"http01_port": port, "http01_address": "127.0.0.1"})
    chall = http01("a.example", "tok")
    auth.perform([chall])
    assert fetch("127.0.0.1", port, chall.uri_path)[:2] == (200, b"tok.thumbprint")
    assert not port_is_free("127.0.0.1", port)
    auth.cleanup([chall])
    assert port_is_free("127.0.0.1", port), "cleanup must release a port it bound itself"


def test_without_address_binds_ipv6_and_ipv4(start):
    port = free_port("::")
    auth = start("standalone", settings={"http01_port": port})
    chall = http01("a.example", "dual")
    auth.perform([chall])
    assert fetch("127.0.0.1", port, chall.uri_path)[:2] == (200, b"dual.thumbprint")
    assert fetch("::1", port, chall.uri_path)[:2] == (200, b"dual.thumbprint")
    auth.cleanup([chall])
    assert port_is_free("::", port) and port_is_free("0.0.0.0", port)


def test_goes_on_when_only_one_family_binds(start):
    port = free_port("0.0.0.0")
    taker = socket.socket(socket.AF_INET)
    taker.bind(("0.0.0.0", port))
    taker.listen(1)
    try:
        auth = start("standalone", settings={"http01_port": port})
        chall = http01("a.example", "v6only")
        auth.perform([chall])
        assert fetch("::1", port, chall.uri_path)[:2] == (200, b"v6only.thumbprint")
        auth.cleanup([chall])
    finally:
        taker.close()


PORT_TAKEN = (
    "Could not bind TCP port {port} because it is already in use by another process on this "
    "system (such as a web server). Please stop the program in question and then try again."
)


@pytest.mark.parametrize("address", ["127.0.0.1", ""])
def test_port_taken_is_one_clear_error_naming_the_port(start, address):
    port = free_port("::")
    taker = socket.socket(socket.AF_INET6)
    taker.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # takes IPv4 too
    taker.bind(("::", port))
    taker.listen(1)
    try:
        auth = start("standalone", settings={"http01_port": port, "http01_address": address})
        with pytest.raises(errors.PluginError) as info:
            auth.perform([http01("a.example", "tok")])
        assert str(info.value) == "standalone: " + PORT_TAKEN.format(port=port)
        auth.cleanup([http01("a.example", "tok")])  # cleanup after a failed perform is fine
    finally:
        taker.close()


def test_bad_address_and_wrong_challenge_type(start):
    auth = start("standalone", settings={"http01_port": free_port(), "http01_address": "nope"})
    with pytest.raises(errors.PluginError, match="'nope' is not an IP address"):
        auth.perform([http01("a.example", "tok")])
    from .conftest import dns01

    with pytest.raises(errors.PluginError, match="only answers http-01"):
        auth.perform([dns01("a.example", "tok")])
