"""The fleet-http authenticator: http-01 answers published through the kernel's board."""
