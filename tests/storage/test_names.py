"""Name validation: what a user types, and the one line they get back."""

from __future__ import annotations

import pytest

from certkernel.errors import ValidationError
from certkernel.names import (
    Identifier,
    lineage_name_for,
    normalize_name,
    parse_domain_args,
    validate_cert_name,
)

GOOD = [
    ("example.com", Identifier("example.com")),
    ("Example.COM", Identifier("example.com")),
    ("www.example.com.", Identifier("www.example.com")),
    ("  spaced.example.com ", Identifier("spaced.example.com")),
    ("*.example.com", Identifier("*.example.com")),
    ("bücher.example", Identifier("xn--bcher-kva.example")),
    ("*.bücher.example", Identifier("*.xn--bcher-kva.example")),
    ("xn--bcher-kva.example", Identifier("xn--bcher-kva.example")),
    ("a-b.c-d.example", Identifier("a-b.c-d.example")),
    ("192.0.2.1", Identifier("192.0.2.1", "ip")),
    ("2001:DB8::0:1", Identifier("2001:db8::1", "ip")),
    ("[::1]", Identifier("::1", "ip")),
    ("a" * 63 + ".example", Identifier("a" * 63 + ".example")),
]

BAD = [
    ("", "cannot be empty"),
    ("http://example.com", "looks like a URL"),
    ("https://example.com/", "looks like a URL"),
    ("example.com/path", "'/' and ':' are not allowed"),
    ("example.com:443", "'/' and ':' are not allowed"),
    ("foo_bar.example.com", "label 'foo_bar' has a character other than a-z, 0-9 and '-'"),
    ("exa mple.com", "has a character other than"),
    ("-lead.example.com", "label '-lead' starts or ends with '-'"),
    ("trail-.example.com", "starts or ends with '-'"),
    ("a..example.com", "empty label"),
    (".example.com", "empty label"),
    ("a" * 64 + ".example", "longer than 63 characters"),
    (".".join(["a" * 60] * 5), "longer than 253 characters"),
    ("localhost", "needs at least two labels"),
    ("*.com.*", "a wildcard is allowed only as the whole first label"),
    ("www.*.example.com", "a wildcard is allowed only as the whole first label"),
    ("f*o.example.com", "a wildcard is allowed only as the whole first label"),
    ("*example.com", "a wildcard is allowed only as the whole first label"),
    ("xn--zz.example", "is not valid punycode"),
    ("\u2603\u200d.example", "not a valid internationalized domain name"),
    ("1.2.3.256", "last label cannot be all digits"),
    ("fe80::1%eth0", "IPv6 scope ids ('%' and what follows) are not allowed"),
    ("[fe80::1%eth0]", "IPv6 scope ids ('%' and what follows) are not allowed"),
    ("fe80::1%$(id)", "IPv6 scope ids ('%' and what follows) are not allowed"),
    ("fe80::1%a b\nc", "IPv6 scope ids ('%' and what follows) are not allowed"),
]


@pytest.mark.parametrize(("raw", "expected"), GOOD)
def test_good_names_normalize(raw: str, expected: Identifier) -> None:
    assert normalize_name(raw) == expected


@pytest.mark.parametrize(("raw", "why"), BAD)
def test_bad_names_get_one_line_naming_the_name(raw: str, why: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalize_name(raw)
    message = str(info.value)
    assert "\n" not in message
    assert why in message
    assert repr(raw) in message


def test_wildcard_flag() -> None:
    assert normalize_name("*.example.com").wildcard
    assert not normalize_name("example.com").wildcard
    assert not normalize_name("192.0.2.1").wildcard


def test_domain_args_split_dedupe_keep_order() -> None:
    values = ["b.example.com,a.example.com", " A.example.com , c.example.com,", "B.EXAMPLE.COM."]
    assert parse_domain_args(values) == ["b.example.com", "a.example.com", "c.example.com"]


def test_domain_args_report_the_bad_item() -> None:
    with pytest.raises(ValidationError, match="'bad_name.example'"):
        parse_domain_args(["ok.example.com,bad_name.example"])


def test_lineage_name_drops_wildcard_like_certbot() -> None:
    assert lineage_name_for(["*.example.com", "example.com"]) == "example.com"
    assert lineage_name_for(["www.example.com", "example.com"]) == "www.example.com"
    assert lineage_name_for(["a.example.com"], cert_name="mycert") == "mycert"


@pytest.mark.parametrize("bad", ["", ".", "..", ".hidden", "a/b", "x.conf"])
def test_bad_cert_names(bad: str) -> None:
    with pytest.raises(ValidationError, match="Invalid certificate name"):
        validate_cert_name(bad)
