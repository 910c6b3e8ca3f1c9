"""The nginx parser: byte-exact round trips, nginx's reading of words, clear refusals."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from certkernel.errors import MisconfigurationError
from certkernel.plugins.nginx.nodes import Block, decode, new_directive, walk
from certkernel.plugins.nginx.parser import NginxConfig, parse_file, parse_text
from tests.infra.corpus import corpus_dir, params, require_corpus

REPO = Path(__file__).resolve().parents[2]
CORPUS = corpus_dir("nginx")  # ../shared/corpus, the fetched copy or $CERTKERNEL_CORPUS
CONFIGS = Path(__file__).resolve().parent / "configs"
# Junk on purpose (see the corpus README): it must be refused, never read.
CORPUS_JUNK = {"nginx-go-crossplane/includes-globbed/servers/locations/not-included.conf"}


def _all_files(root: Path) -> list[str]:
    """Every regular file below root, hidden ones included, as relative paths."""
    found = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            found.append(os.path.relpath(os.path.join(folder, name), root))
    return sorted(found)


CORPUS_FILES = [f for f in _all_files(CORPUS) if f not in CORPUS_JUNK] if CORPUS.is_dir() else []
OWN_FILES = _all_files(CONFIGS / "roundtrip")
REFUSED = _all_files(CONFIGS / "refused")


def test_corpus_present() -> None:
    """The shared corpus is where the README says; an empty list would test nothing."""
    require_corpus()
    assert len(CORPUS_FILES) >= 80


@pytest.mark.parametrize("rel", params(CORPUS_FILES))
def test_corpus_roundtrip(rel: str) -> None:
    require_corpus()
    parsed = parse_file(str(CORPUS / rel))
    assert parsed.dump() == (CORPUS / rel).read_bytes()


def test_own_corpus_is_big_enough() -> None:
    assert len(OWN_FILES) >= 30


@pytest.mark.parametrize("rel", OWN_FILES)
def test_own_roundtrip(rel: str) -> None:
    parsed = parse_file(str(CONFIGS / "roundtrip" / rel))
    assert parsed.dump() == (CONFIGS / "roundtrip" / rel).read_bytes()


@pytest.mark.parametrize("rel", REFUSED)
def test_refused_with_file_and_line(rel: str) -> None:
    """Each broken file is an error naming the file and the expected line."""
    path = CONFIGS / "refused" / rel
    line = re.search(r"\.L(\d+)\.conf$", rel)
    assert line, "refused files are named <what>.L<line>.conf"
    with pytest.raises(MisconfigurationError) as info:
        if "include" in rel:
            NginxConfig.load(str(path.parent), rel)
        else:
            parse_file(str(path))
    assert f"{path}:{line.group(1)}:" in str(info.value)


def test_corpus_junk_is_refused() -> None:
    require_corpus()
    path = CORPUS / "nginx-go-crossplane/includes-globbed/servers/locations/not-included.conf"
    with pytest.raises(MisconfigurationError, match=r"not-included\.conf:2:"):
        parse_file(str(path))


def _words(text: str) -> list[list[str]]:
    return [[w.value for w in d.words] for d in walk(parse_text(text, "t.conf"))]


def test_word_values_follow_nginx() -> None:
    text = r"""return 200 "a \"b\" \\ \n";  add_header X 'it\'s';  rewrite ^/a\ b$ /c;"""
    assert _words(text) == [
        ["return", "200", 'a "b" \\ \n'],
        ["add_header", "X", "it's"],
        ["rewrite", "^/a\\ b$", "/c"],
    ]


def test_braces_in_comments_and_quotes_do_not_open_blocks() -> None:
    text = '# {\nserver { # }\n  return 200 "}{"; # {\n}\n'
    names = [d.name for d in walk(parse_text(text, "t.conf"))]
    assert names == ["server", "return"]


def test_variable_braces_stay_in_the_word() -> None:
    assert _words("set $b ${a}y;") == [["set", "$b", "${a}y"]]


def test_lua_block_is_raw() -> None:
    text = 'content_by_lua_block { local t = {"}"} -- }\n }\nlisten 80;\n'
    block = parse_text(text, "t.conf")
    lua, listen = block.children
    assert lua.raw_body == ' local t = {"}"} -- }\n '
    assert lua.block is None
    assert listen.args == ["80"]


def test_if_block_words() -> None:
    assert _words('if ($a ~ "x{1}") { return 403; }') == [
        ["if", "($a", "~", "x{1}", ")"],
        ["return", "403"],
    ]


def test_directive_lines_are_recorded() -> None:
    block = parse_text("\n\nserver {\n\n  listen 80;\n}\n", "t.conf")
    server = block.children[0]
    assert (server.line, server.block.children[0].line) == (3, 5)  # type: ignore[union-attr]


def test_edit_touches_only_the_change() -> None:
    """Adding one directive leaves every other byte as it was."""
    original = (CONFIGS / "roundtrip" / "12-odd-whitespace.conf").read_text()
    block = parse_text(original, "t.conf")
    server = block.children[0]
    assert server.block is not None
    server.block.children.append(new_directive("listen", "443", "ssl", indent="\t"))
    dumped = block.dump()
    assert dumped == original.replace(
        "\t}\n}", "\t}\n\tlisten 443 ssl;\n}"
    ), dumped


def test_includes_resolve_against_server_root_with_globs() -> None:
    """Relative includes are relative to the server root, globs sorted, hidden files skipped."""
    root = CONFIGS / "includes"
    config = NginxConfig.load(str(root))
    rel = sorted(os.path.relpath(p, root) for p in config.files)
    assert rel == [
        "conf.d/a.conf",
        "conf.d/b.conf",
        "conf.d/sub/loc.inc",
        "nginx.conf",
        "snippets/common.conf",
        "snippets/listen-v6.inc",
    ]
    http = config.root_block.children[1]
    assert http.block is not None
    names = [d.name for d in config.expand(http.block)]
    assert names == ["server_tokens", "server", "server"]


def test_corpus_include_not_relative_to_including_file() -> None:
    require_corpus()
    root = CORPUS / "nginx-go-crossplane" / "includes-globbed"
    config = NginxConfig.load(str(root))
    assert not any(p.endswith("not-included.conf") for p in config.files)
    assert str(root / "locations" / "location1.conf") in config.files


def test_include_cycle_is_refused(tmp_path: Path) -> None:
    (tmp_path / "nginx.conf").write_text("include a.conf;\n")
    (tmp_path / "a.conf").write_text("include nginx.conf;\n")
    with pytest.raises(MisconfigurationError, match="include cycle"):
        NginxConfig.load(str(tmp_path))


def test_missing_main_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(MisconfigurationError, match="--nginx-server-root"):
        NginxConfig.load(str(tmp_path))


def test_non_utf8_bytes_survive() -> None:
    raw = (CONFIGS / "roundtrip" / "26-latin1.conf").read_bytes()
    assert parse_text(decode(raw), "x").dump().encode("utf-8", "surrogateescape") == raw


def test_block_dump_of_empty_block() -> None:
    assert Block().dump() == ""
