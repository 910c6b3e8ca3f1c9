"""Regenerate vectors.json: the protocol's byte-exact conformance examples.

Valid vectors are encoded here with plain ``msgpack`` (not certkernel's
codec, which the vectors test); invalid ones are written by hand. Run it
only when adding a vector, then review the diff: existing bytes must never
change within protocol version 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgpack

CHALLENGE = {
    "identifier": "example.com",
    "type": "http-01",
    "token": "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
    "key_authorization": "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI",
    "validation": "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI",
    "identifier_type": "dns",
    "wildcard": False,
    "validation_domain_name": "",
    "uri_path": "/.well-known/acme-challenge/evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
}
DNS_CHALLENGE = {
    "identifier": "example.com",
    "type": "dns-01",
    "token": "tok",
    "key_authorization": "tok.thumb",
    "validation": "LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo",
    "identifier_type": "dns",
    "wildcard": True,
    "validation_domain_name": "_acme-challenge.example.com",
    "uri_path": "",
}
LINEAGE = {
    "name": "example.com",
    "cert_path": "/etc/letsencrypt/live/example.com/cert.pem",
    "key_path": "/etc/letsencrypt/live/example.com/privkey.pem",
    "chain_path": "/etc/letsencrypt/live/example.com/chain.pem",
    "fullchain_path": "/etc/letsencrypt/live/example.com/fullchain.pem",
    "domains": ["example.com", "www.example.com"],
}

VALID: list[tuple[str, str, Any]] = [
    ("ping-empty-params", "request", [0, 1, "$/ping", []]),
    ("ping-response", "response", [1, 1, None, {}]),
    ("initialize", "request", [0, 1, "initialize", [{
        "protocol_versions": [1], "kernel_version": "0.1.0", "name": "webroot",
        "options": {"path": ["/var/www/html"], "map": {}},
        "secrets": {}, "settings": {"dry_run": False, "non_interactive": True,
                                    "http01_port": 80},
        "state_dir": "/var/lib/certkernel/plugins/webroot", "fds": {}}]]),
    ("initialize-result", "response", [1, 1, None, {
        "protocol_version": 1, "name": "webroot", "version": "1.0.0",
        "capabilities": ["cancel"]}]),
    ("initialize-with-fds", "request", [0, 1, "initialize", [{
        "protocol_versions": [1], "kernel_version": "0.1.0", "name": "standalone",
        "options": {}, "secrets": {}, "settings": {"http01_port": 80},
        "state_dir": "/tmp/s", "fds": {"http01_sockets": [3, 4]}}]]),
    ("initialize-with-secrets", "request", [0, 1, "initialize", [{
        "protocol_versions": [1], "kernel_version": "0.1.0", "name": "dns-rfc2136",
        "options": {"credentials": "/etc/letsencrypt/rfc2136.ini", "propagation-seconds": 60},
        "secrets": {"dns_rfc2136_secret": "c2VjcmV0", "dns_rfc2136_name": "acme-key."},
        "settings": {}, "state_dir": "/tmp/d", "fds": {}}]]),
    ("prepare", "request", [0, 2, "prepare", [{}]]),
    ("empty-result", "response", [1, 2, None, {}]),
    ("get-chall-pref", "request", [0, 3, "get_chall_pref", [{"domain": "example.com"}]]),
    ("get-chall-pref-result", "response", [1, 3, None, {"challenges": ["http-01"]}]),
    ("perform-http01", "request", [0, 4, "perform", [{"challenges": [CHALLENGE]}]]),
    ("perform-dns01-wildcard", "request", [0, 4, "perform", [{"challenges": [DNS_CHALLENGE]}]]),
    ("cleanup", "request", [0, 5, "cleanup", [{"challenges": [CHALLENGE]}]]),
    ("perform-per-domain", "request", [0, 4, "perform", [{"challenges": [
        {**CHALLENGE, "per_domain": {"map": "/var/www/example"}}]}]]),
    ("more-info-result", "response", [1, 6, None, {"text": "Saves files in a webroot."}]),
    ("get-all-names-result", "response", [1, 7, None, {"names": ["example.com", "www.example.com"]}]),
    ("deploy-cert", "request", [0, 8, "deploy_cert", [{
        "domain": "example.com", "cert_path": LINEAGE["cert_path"],
        "key_path": LINEAGE["key_path"], "chain_path": LINEAGE["chain_path"],
        "fullchain_path": LINEAGE["fullchain_path"]}]]),
    ("enhance-redirect", "request", [0, 9, "enhance", [{
        "domain": "example.com", "enhancement": "redirect", "options": None}]]),
    ("enhance-header", "request", [0, 9, "enhance", [{
        "domain": "example.com", "enhancement": "ensure-http-header",
        "options": "Strict-Transport-Security"}]]),
    ("save-temporary", "request", [0, 10, "save", [{"title": None, "temporary": True}]]),
    ("renew-deploy", "request", [0, 11, "renew_deploy", [{"lineage": LINEAGE}]]),
    ("enable-autohsts", "request", [0, 12, "enable_autohsts", [{
        "lineage": LINEAGE, "domains": ["example.com"]}]]),
    ("shutdown", "request", [0, 13, "shutdown", [{}]]),
    ("exit", "notification", [2, "exit", [{}]]),
    ("cancel", "notification", [2, "$/cancel", [{"id": 4}]]),
    ("log", "notification", [2, "$/log", [{"level": "info", "message": "reloading nginx"}]]),
    ("progress", "notification", [2, "$/progress", [{
        "message": "waiting for DNS", "done": 1, "total": 3}]]),
    ("display-input", "request", [0, 1, "display/input", [{
        "message": "Input the webroot for example.com:", "cli_flag": "--webroot-path"}]]),
    ("display-input-result", "response", [1, 1, None, {"ok": True, "value": "/var/www"}]),
    ("display-menu", "request", [0, 2, "display/menu", [{
        "message": "Which server block?", "choices": ["a", "b"], "default": 0,
        "cli_flag": "--nginx-server-root"}]]),
    ("storage-put", "request", [0, 3, "storage/put", [{
        "key": "installed_hash", "value": "abc123"}]]),
    ("checkpoint-add", "request", [0, 4, "checkpoint/add", [{
        "files": ["/etc/nginx/sites-enabled/default"], "temporary": False}]]),
    ("error-method-not-found", "response", [1, 5, {
        "code": -32601, "type": "MethodNotFound",
        "message": "webroot does not implement 'deploy_cert'"}, None]),
    ("error-invalid-params", "response", [1, 5, {
        "code": -32602, "type": "InvalidParams", "message": "missing field 'domain'"}, None]),
    ("error-cancelled", "response", [1, 4, {
        "code": -32800, "type": "Cancelled", "message": "perform was cancelled"}, None]),
    ("error-internal", "response", [1, 5, {
        "code": -32603, "type": "InternalError", "message": "ValueError: boom",
        "data": {"traceback": "Traceback (most recent call last): ..."}}, None]),
    ("error-misconfiguration", "response", [1, 6, {
        "code": -32000, "type": "MisconfigurationError",
        "message": "nginx -t failed", "data": {"output": "emerg: unexpected }"}}, None]),
    ("error-missing-flag", "response", [1, 7, {
        "code": -32000, "type": "MissingCommandlineFlag",
        "message": "missing --webroot-path", "data": {"flag": "--webroot-path"}}, None]),
    ("max-id", "request", [0, 4294967295, "$/ping", []]),
    ("binary-value", "response", [1, 8, None, {"blob": b"\x00\x01\xff"}]),
    ("unicode-text", "notification", [2, "$/log", [{"level": "info", "message": "b\u00fccher.example \u2713"}]]),
    ("unknown-fields-ignored", "request", [0, 9, "prepare", [{"future_field": [1, 2, 3]}]]),
]

# Valid bytes that a conforming encoder need not produce: a decoder MUST
# accept them and read the meaning given (PROTOCOL.md §3.2). Written by hand.
DECODE_ONLY: list[tuple[str, str, str, Any, str]] = [
    ("id-as-uint32", "request", "9400ce00000001a6242f70696e6790", [0, 1, "$/ping", []],
     "id 1 in a uint 32 encoding: the id is the integer's value, not its encoding"),
    ("id-as-uint64", "response", "9401cf0000000000000001c080", [1, 1, None, {}],
     "id 1 in a uint 64 encoding"),
    ("id-as-int8", "request", "9400d001a6242f70696e6790", [0, 1, "$/ping", []],
     "id 1 in a signed int 8 encoding: a non-negative value is an id whatever the encoding"),
    ("map-keys-in-other-order", "request",
     "940001ad646973706c61792f696e7075749182a8636c695f666c6167a32d2d66a76d657373616765a14d",
     [0, 1, "display/input", [{"message": "M", "cli_flag": "--f"}]],
     "map key order carries no meaning: the same map as {message, cli_flag}"),
]

INVALID: list[tuple[str, str, str, str]] = [
    ("not-msgpack", "c1", "violation", "0xc1 is never used in MessagePack"),
    ("text-garbage", "48656c6c6f0a", "violation", "'Hello\\n' printed to stdout: a positive fixint, not an array"),
    ("top-level-map", "81a16101", "violation", "a map is not a message"),
    ("request-too-short", "930001a470696e67", "violation",
     "request with 3 elements: only a 4-element [0, id, ...] array carries a request id"),
    ("unknown-kind", "9403010090", "violation", "kind 3 does not exist"),
    ("negative-id", "9400ffa470696e6790", "violation", "ids are unsigned"),
    ("id-too-large", "9400cf0000000100000000a470696e6790", "violation", "ids fit in 32 bits"),
    ("method-not-string", "9400010590", "invalid-request", "method must be a string; a plugin answers InvalidRequest for id 1"),
    ("params-not-array", "940001a470696e6780", "invalid-request", "params must be an array"),
    ("params-two-maps", "940001a470696e67928080", "invalid-request", "params holds at most one map"),
    ("params-positional", "940001a470696e679101", "invalid-request", "params holds a map, not positional values"),
    ("non-string-key", "940001a470696e6791810100", "violation",
     "map keys must be strings; checked before the shape, so the id does not help"),
    ("nested-non-string-key", "940001a470696e679181a17881c3c0", "violation", "map keys must be strings at any depth"),
    ("ext-type", "940001a470696e679181a178d40501", "violation", "extension types are not allowed"),
    ("timestamp-ext", "940001a470696e679181a178d6ff00000000", "violation", "the timestamp extension is not allowed either"),
    ("response-error-string", "940101a3626164c0", "violation", "an error is nil or a map"),
    ("truncated", "940001a470696e", "violation-at-eof", "the stream ends inside a message"),
    ("string-id", "9400a131a6242f70696e6790", "violation",
     "the id is the string \"1\", not an integer: no request id can be read (a dynamic language's id that became a string)"),
    ("response-string-id", "9401a131c080", "violation", "a response's id must be an integer too"),
    ("float-id", "9400cb3ff0000000000000a6242f70696e6790", "violation", "1.0 is a float, not an integer id"),
    ("method-bin", "940001c406242f70696e6790", "invalid-request",
     "a method is a MessagePack str; bin is not a string, even holding UTF-8"),
]


def _json_form(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bin": value.hex()}
    if isinstance(value, dict):
        return {k: _json_form(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_form(v) for v in value]
    return value


def build() -> dict[str, Any]:
    vectors = []
    for name, kind, obj in VALID:
        vectors.append({
            "name": name,
            "kind": kind,
            "hex": msgpack.packb(obj, use_bin_type=True).hex(),
            "decoded": _json_form(obj),
            "valid": True,
        })
    for name, kind, hex_, obj, note in DECODE_ONLY:
        assert msgpack.unpackb(bytes.fromhex(hex_), raw=False) == obj, name
        vectors.append({
            "name": name,
            "kind": kind,
            "hex": hex_,
            "decoded": _json_form(obj),
            "valid": True,
            "exact_encoding": False,
            "note": note,
        })
    for name, hex_, reaction, note in INVALID:
        vectors.append({"name": name, "hex": hex_, "valid": False,
                        "reaction": reaction, "note": note})
    return {
        "protocol_version": 1,
        "encoding": "decoded uses JSON; {\"$bin\": hex} stands for a MessagePack bin value",
        "exact_encoding": "valid vectors without exact_encoding: false are also what an encoder that keeps map insertion order produces; those with it are decode-only",
        "reactions": {
            "violation": "the kernel ends the plugin with a ProtocolError quoting the bytes; a plugin writes one line to stderr and exits with status 3",
            "invalid-request": "a plugin answers [1, id, {code: -32600, type: InvalidRequest, ...}, nil] and goes on; the kernel treats it as a violation",
            "violation-at-eof": "a violation once the stream ends (no more bytes can complete it): a plugin exits 3, not 0",
        },
        "vectors": vectors,
    }


if __name__ == "__main__":
    out = Path(__file__).with_name("vectors.json")
    out.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {out}")
