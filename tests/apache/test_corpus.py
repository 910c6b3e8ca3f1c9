"""Every Apache config we know of is read faithfully or refused with file and line.

Two sources: the shared corpus of real-world files (read in place) and our
own configs under ``configs/``, each a small server root exercising one
layout or construct. For each of ours the table says which names the plugin
must find, or which error (with ``file:line``) it must give.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from certkernel.errors import MisconfigurationError
from certkernel.plugins.apache.config import ApacheConfig
from certkernel.plugins.apache.options import resolve
from certkernel.plugins.apache.syntax import ConfFile
from certkernel.plugins.apache.vhosts import all_names, collect
from tests.apache.conftest import CONFIGS, CORPUS
from tests.infra.corpus import params, require_corpus

CORPUS_FILES = sorted(
    str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file() and not p.is_symlink()
)
# httpd itself refuses this one ("Expected </IfModule> before end of configuration")
REFUSED = {"certbot/apache-conf-files/passing/two-blocks-one-line-1693.conf": r":\d+: <IfModule>"}


def test_corpus_is_there() -> None:
    require_corpus()
    assert len(CORPUS_FILES) >= 60


@pytest.mark.parametrize("rel", params(CORPUS_FILES))
def test_corpus_round_trips_byte_for_byte(rel: str) -> None:
    require_corpus()
    path = CORPUS / rel
    if rel in REFUSED:
        with pytest.raises(MisconfigurationError, match=REFUSED[rel]) as info:
            ConfFile.read(path)
        assert str(path) in str(info.value)
        return
    conf = ConfFile.read(path)
    assert conf.data() == path.read_bytes()


def test_corpus_debian_tree_vhosts() -> None:
    require_corpus()
    root = CORPUS / "certbot/testdata/debian_apache_2_4/multiple_vhosts/apache2"
    files = [ConfFile.read(p) for p in sorted((root / "sites-available").glob("*.conf"))]
    names = {n for f in files for n in _names(f)}
    assert "encryption-example.demo" in names
    assert {"ip-172-30-0-17", "ocspvhost.com", "*.blue.purple.com"} <= names


def _names(conf: ConfFile) -> list[str]:
    out = []
    stack = list(conf.root.children)
    while stack:
        node = stack.pop()
        if node.lname in ("servername", "serveralias"):
            out.extend(node.args)
        stack.extend(node.children)
    return out


# case -> (names get_all_names must return, or an error regex that includes file:line)
CASES: dict[str, list[str] | str] = {
    "debian-basic": ["debian.example.com", "unused.example.com", "www.debian.example.com"],
    "debian-ssl-site": ["secure.example.com"],
    "rhel-confd": ["alias.rhel.example.com", "rhel-site.example.com"],
    "include-glob-nested": ["one.example.com", "two.example.com"],
    "include-directory": ["first.example.com", "second.example.com"],
    "includeoptional-missing": ["optional.example.com"],
    "include-missing": r"apache2\.conf:4: Include not-there\.conf: .* does not exist",
    "include-glob-nomatch": r"apache2\.conf:3: Include sites/\*\.conf matches no file",
    "include-recursive": r"loop\.conf:2: Include loop\.conf includes .* recursively",
    "ifmodule-ssl-not-loaded": ["plain.example.com"],
    "ifmodule-negated-and-loaded": ["nossl.example.com", "rewrite.example.com"],
    "ifdefine": ["b.example.com"],
    "define-variables": ["extra.vars.example.com", "vars.example.com", "www.vars.example.com"],
    "modmacro": ["real.example.com"],
    "comments-continuations": ["a.cont.example.com", "b.cont.example.com", "cont.example.com"],
    "crlf-endings": ["crlf.example.com"],
    "ipv6-and-ip-based": ["dual.example.com", "ipbased.example.com", "v6any.example.com"],
    "quoted-args": ["quoted.example.com", "single.example.com", "unquoted.example.com"],
    "servername-scheme-port": ["port.example.com", "scheme.example.com"],
    "wildcard-aliases": ["*.example.net", "wild.example.net"],
    "iffile-ifversion": ["iffile.example.com", "ifversion.example.com"],
    "non-utf8-bytes": ["latin1.example.com"],
    "no-final-newline": ["nonl.example.com"],
    "unclosed-section": r"apache2\.conf:3: <VirtualHost> section is never closed",
    "mismatched-close": r"apache2\.conf:5: expected </Directory> but saw </VirtualHost>",
    "section-missing-gt": r"apache2\.conf:3: <VirtualHost> section line is missing its closing '>'",
    "stray-close": r"apache2\.conf:3: </IfModule> without matching <IfModule> section",
    "selection": sorted(
        [
            "example.com",
            "www.example.com",
            "wild.example.com",
            "*.example.com",
            "deep.example.com",
            "*.shop.example.com",
            "ip.example.org",
            "dup.example.org",
            "fallback.example.net",
            "app.example.net",
            "v6.example.org",
            "anyport.example.org",
        ]
    ),
}


def test_every_config_has_a_case() -> None:
    assert sorted(CASES) == sorted(p.name for p in CONFIGS.iterdir() if p.is_dir())
    assert len(CASES) >= 20


def _load(case: str) -> list[str]:
    root = CONFIGS / case
    opts = resolve({"server-root": str(root)})
    config = ApacheConfig(opts.server_root, opts.main_file, env={})
    extra = []
    if opts.vhost_root.is_dir():
        included = {os.path.realpath(p) for p in config.included_files()}
        extra = [
            config.file(p)
            for p in sorted(opts.vhost_root.glob("*.conf"))
            if os.path.realpath(p) not in included
        ]
    return all_names(collect(config, extra))


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_case(case: str) -> None:
    expected = CASES[case]
    if isinstance(expected, str):
        with pytest.raises(MisconfigurationError) as info:
            _load(case)
        message = str(info.value)
        assert re.search(expected, message), message
        assert str(CONFIGS / case) in message  # names the file
        assert "\n" not in message  # one line
        return
    assert _load(case) == expected


@pytest.mark.parametrize("case", sorted(c for c, e in CASES.items() if not isinstance(e, str)))
def test_config_files_round_trip(case: str) -> None:
    for path in sorted((CONFIGS / case).rglob("*")):
        if path.is_file() and not path.is_symlink():
            assert ConfFile.read(path).data() == path.read_bytes(), path


def test_undecodable_bytes_survive_an_edit(tmp_path: Path) -> None:
    src = (CONFIGS / "non-utf8-bytes" / "apache2.conf").read_bytes()
    conf = ConfFile(tmp_path / "x.conf", src.decode("utf-8", "surrogateescape"))
    vhost = conf.root.children[-1]
    conf.append_to(vhost, ["ServerAlias added.example.com"])
    out = conf.data()
    assert b"caf\xe9 in latin-1" in out
    assert out.replace(b"  ServerAlias added.example.com\n", b"") == src


def test_crlf_file_stays_crlf_after_edit(tmp_path: Path) -> None:
    src = (CONFIGS / "crlf-endings" / "apache2.conf").read_bytes()
    conf = ConfFile(tmp_path / "x.conf", src.decode())
    conf.append_to(conf.root.children[-1], ["ServerAlias b.example.com"])
    assert conf.data() == src.replace(
        b"</VirtualHost>", b"  ServerAlias b.example.com\r\n</VirtualHost>"
    )
