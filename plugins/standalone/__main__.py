"""Entry point: ``python -m certkernel.plugins.standalone`` (started by certkernel)."""

from certkernel.sdk import serve

if __name__ == "__main__":
    serve("certkernel.plugins.standalone.plugin:Standalone")
