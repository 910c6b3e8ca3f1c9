"""The protocol conformance kit behind ``certkernel plugin-check``.

It talks to a plugin the way the kernel does, but byte by byte, so every
deviation from protocol/PROTOCOL.md can be reported precisely instead of
ending in one ``ProtocolError``.
"""
