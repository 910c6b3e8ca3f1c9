"""``python -m certkernel.plugins.apache``: the plugin process."""

from certkernel.sdk import serve

from .plugin import ApachePlugin

if __name__ == "__main__":
    serve(ApachePlugin)
