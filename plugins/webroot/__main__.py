"""Entry point: ``python -m certkernel.plugins.webroot`` (started by certkernel)."""

from certkernel.sdk import serve

if __name__ == "__main__":
    serve("certkernel.plugins.webroot.plugin:Webroot")
