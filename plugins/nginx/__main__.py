"""``python -m certkernel.plugins.nginx``: serve the nginx plugin to the kernel."""

from __future__ import annotations

from certkernel.sdk import serve

if __name__ == "__main__":
    serve("certkernel.plugins.nginx.plugin:NginxPlugin")
