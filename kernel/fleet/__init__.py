"""Fleet mode: hosts that share accounts, lineages and http-01 challenges through PostgreSQL (docs/fleet.md)."""
