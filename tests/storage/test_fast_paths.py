"""The quick readers used by ``renew`` agree with configobj and cryptography."""

from __future__ import annotations

import datetime
import io
import subprocess
import sys
from pathlib import Path

import configobj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certkernel import crypto
from certkernel.errors import ValidationError
from certkernel.lineages import renewal_conf
from certkernel.lineages.cert_validity_der import pem_validity
from certkernel.lineages.renewal_conf_plain import parse_plain
from tests.infra.minica import MiniCA


def _configobj(data: bytes) -> dict | str:
    try:
        return configobj.ConfigObj(
            io.BytesIO(data), encoding="utf-8", default_encoding="utf-8", interpolation=False
        ).dict()
    except Exception as exc:  # noqa: BLE001 - any configobj failure is "error"
        return f"error {type(exc).__name__}"


SAMPLES = [
    b"a =\n", b"a = b = c\n", b"a = x, y,\n", b"a = ,\n", b"a = ,,\n", b"a = x,,y\n", b"a = ,x\n",
    b"a=  spaced  value  \n", b"a = x , y\n", b"a = [x]\n", b"  a = 1\n", b"a = x\\\n",
    b"a = x,y\nb=1\n[s]\n[[t]]\nk=v\n[u]\nz=1\n", b"a = 1\na = 2\n", b"[s]\n[s]\n", b"[[t]]\nk=v\n",
    b"[s]\n[[[deep]]]\nk=v\n", b"justakey\n", b"a = 'q'\n", b"a = x # note\n", b"\xef\xbb\xbfa = 1\n",
    b"\xff\xfe", b"# only a comment\n", b"[ spaced ]\nk = v\n", b"a = 1\n[s\n", b"a = 1\ns]\n",
    b"a = caf\xc3\xa9\n", b"k = v\r\nl = w\r\n",
]


@pytest.mark.parametrize("data", SAMPLES)
def test_plain_parser_agrees_or_defers(data: bytes) -> None:
    fast = parse_plain(data)
    if fast is not None:
        assert fast == _configobj(data)


_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), max_size=20)
_scalar = st.one_of(_text, st.integers(), st.booleans(), st.none())
_params = st.dictionaries(
    st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True),
    st.one_of(_scalar, st.lists(_text.filter(lambda s: s.strip() == s and s != ""), max_size=3),
              st.dictionaries(st.from_regex(r"[a-z*.][a-z0-9.-]{0,10}", fullmatch=True), _text, max_size=3)),
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(params=_params)
def test_written_confs_read_back_the_same_by_both_readers(tmp_path_factory: pytest.TempPathFactory, params: dict) -> None:
    path = tmp_path_factory.mktemp("conf") / "x.conf"
    links = {k: f"/l/{k}.pem" for k in ("cert", "privkey", "chain", "fullchain")}
    try:
        renewal_conf.write(str(path), "/a", links, params, version="0.1.0")
    except ValidationError as exc:  # configobj cannot quote some strings
        assert "cannot store a value" in str(exc)
        return
    data = path.read_bytes()
    slow = _configobj(data)
    fast = parse_plain(data)
    if fast is not None:
        assert fast == slow
    assert renewal_conf.read(str(path)).params.as_dict() == slow["renewalparams"]  # type: ignore[index]


@pytest.mark.parametrize(
    "start",
    [
        datetime.datetime(2024, 3, 1, 12, 0, 5, tzinfo=datetime.UTC),
        datetime.datetime(1999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC),
        datetime.datetime(2049, 6, 1, tzinfo=datetime.UTC),  # notAfter in 2050+: GeneralizedTime
    ],
)
def test_pem_validity_matches_cryptography(ca: MiniCA, start: datetime.datetime) -> None:
    issued = ca.issue(["example.com"], start=start, days=400)
    info = crypto.cert_info(issued.cert)
    assert pem_validity(issued.fullchain) == (info.not_before, info.not_after)


def test_pem_validity_declines_garbage() -> None:
    assert pem_validity(b"nothing") is None
    assert pem_validity(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") is None


def test_rsa_and_big_serial_certs(tmp_path: Path, ca: MiniCA) -> None:
    issued = ca.issue(["example.com"], key=crypto.make_key(crypto.KeySpec("rsa", rsa_key_size=2048)))
    info = crypto.cert_info(issued.cert)
    assert pem_validity(issued.cert) == (info.not_before, info.not_after)


def test_due_check_needs_neither_configobj_nor_cryptography(tmp_path: Path, ca: MiniCA) -> None:
    """What renew does per lineage to decide what is due stays on the light path."""
    from certkernel.lineages.storage import Lineage

    for i in range(3):
        issued = ca.issue([f"s{i}.example.com"], days=10 + i)
        Lineage.create(str(tmp_path), f"s{i}.example.com", issued.cert, issued.chain, issued.fullchain,
                       issued.key, {"authenticator": "webroot", "webroot_path": ["/srv"]})
    code = (
        "import sys\nfrom certkernel.lineages import lineage_find\n"
        f"res = lineage_find.scan({str(tmp_path)!r})\n"
        "print([(l.not_after - l.not_before).days for l in res.lineages], len(res.errors))\n"
        "print(sorted(m for m in ('cryptography', 'configobj') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.splitlines() == ["[10, 11, 12] 0", "[]"]
