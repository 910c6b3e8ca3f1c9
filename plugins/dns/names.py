"""Name arithmetic for dns-01: zone candidates and record names.

Pure functions on text, so they are cheap to test and shared by every backend.
"""

from __future__ import annotations


def normalize(name: str) -> str:
    """Lower-case, no trailing dot, IDNA labels kept as given (the kernel sends A-labels)."""
    return name.strip().rstrip(".").lower()


def zone_candidates(name: str, min_labels: int = 1) -> list[str]:
    """Parent domains of ``name`` from the most to the least specific.

    ``_acme-challenge.a.example.com`` gives ``_acme-challenge.a.example.com``,
    ``a.example.com``, ``example.com`` and (with ``min_labels=1``) ``com``.
    HTTP-API providers never host a bare TLD, so they pass ``min_labels=2``.
    """
    labels = normalize(name).split(".")
    return [".".join(labels[i:]) for i in range(len(labels)) if len(labels) - i >= min_labels]
