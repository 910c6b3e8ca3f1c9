"""Entry point: ``python -m certkernel.plugins.fleet_http`` (started by certkernel)."""

from certkernel.sdk import serve

if __name__ == "__main__":
    serve("certkernel.plugins.fleet_http.plugin:FleetHttp")
