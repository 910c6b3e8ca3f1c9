"""http-01 through nginx: serve key authorizations from a temporary include.

For each name, the block nginx itself would use on the http-01 port gets an
``include`` of a small generated file holding
``location = /.well-known/acme-challenge/<token> { default_type text/plain;
return 200 "<key authorization>"; }``. When that block has server-level
rewrite directives (``return``, ``rewrite``, ``if`` — a redirect to HTTPS,
say), which nginx runs before choosing a location, the file also answers
the exact challenge URI with a server-level ``if`` placed first. When no
block listens on the port, a temporary server block is added instead. All
of it is registered as temporary checkpoints, so cleanup (or the kernel
after a crash) restores the exact previous files.
"""

from __future__ import annotations

import os

from certkernel.sdk import Challenge

from . import edits
from .installer import NginxEditor, new_file
from .nodes import quote
from .selection import ServerBlock, nginx_lookup

_REWRITE = {"return", "rewrite", "if"}
PREFIX = ".certkernel-challenge"


def _answer(challenge: Challenge, server_level: bool) -> str:
    path = challenge.uri_path or f"/.well-known/acme-challenge/{challenge.token}"
    body = quote(challenge.validation or challenge.key_authorization)
    text = ""
    if server_level:
        text += f'if ($request_uri = {quote(path)}) {{\n    return 200 {body};\n}}\n'
    text += f"location = {quote(path)} {{\n    default_type text/plain;\n    return 200 {body};\n}}\n"
    return text


def publish(editor: NginxEditor, challenges: list[Challenge], port: int) -> list[str]:
    """Edit the tree so nginx answers every challenge on ``port``; save it (temporary)."""
    editor.reload_tree()
    servers = editor.servers()
    targets: dict[int, tuple[ServerBlock, list[Challenge]]] = {}
    orphans: list[Challenge] = []
    for challenge in challenges:
        found = nginx_lookup(servers, challenge.identifier, port)
        if found is None:
            orphans.append(challenge)
        else:
            targets.setdefault(found[0].index, (found[0], []))[1].append(challenge)
    root = editor.config.server_root
    for index, (server, items) in sorted(targets.items()):
        server_level = any(c.name in _REWRITE for c in server.block.children)
        path = os.path.join(root, f"{PREFIX}-{index}.inc")
        editor.new_files[path] = new_file(path, "".join(_answer(c, server_level) for c in items))
        edits.insert(server.block, edits.make(server.block, "include", path), 0)
    if orphans:
        _temporary_server(editor, orphans, port)
    return editor.save(temporary=True)


def _temporary_server(editor: NginxEditor, challenges: list[Challenge], port: int) -> None:
    root = editor.config.server_root
    path = os.path.join(root, f"{PREFIX}-server.inc")
    names = " ".join(sorted({c.identifier for c in challenges}))
    body = "".join(_answer(c, False) for c in challenges).replace("\n", "\n    ")
    text = f"server {{\n    listen {port};\n    server_name {names};\n    {body.rstrip()}\n}}\n"
    editor.new_files[path] = new_file(path, text)
    for top in editor.config.root_block.children:
        if top.name == "http" and top.block is not None:
            edits.insert(top.block, edits.make(top.block, "include", path), 0)
            return
    raise edits_error(editor)


def edits_error(editor: NginxEditor) -> Exception:
    from certkernel.sdk import MisconfigurationError

    return MisconfigurationError(f"{editor.config.main}: no http block to add a challenge server to")
