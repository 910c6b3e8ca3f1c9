"""Entry point: ``python -m certkernel.plugins.manual`` (started by certkernel)."""

from certkernel.sdk import serve

if __name__ == "__main__":
    serve("certkernel.plugins.manual.plugin:Manual")
