"""certkernel: an ACME client with a small kernel and out-of-process plugins."""
__version__ = "0.1.0"
