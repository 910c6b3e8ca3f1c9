"""Run ``python -m certkernel ARGS`` with a bug injected into the kernel, for failure paths.

Used as the ``wrapper`` of :meth:`tests.infra.e2e_site.CliSite.cli`: argv is
``kernel_fault.py POINT python -m certkernel ARGS``.  ``POINT`` names the
kernel step that raises ``RuntimeError`` (not a certkernel error: a bug),
so a test can show what a kernel failure leaves behind; everything else
(plugins, web server, CA) is real.

- ``answer``: sending the first challenge answer to the CA, i.e. after
  the authenticator published its challenges and before its cleanup.
"""

from __future__ import annotations

import sys


def _inject(point: str) -> None:
    if point != "answer":
        raise SystemExit(f"kernel_fault.py: unknown fault point {point!r}")
    from certkernel.ca.acme_session import AcmeSession

    def broken(self: AcmeSession, *args: object, **kwargs: object) -> None:
        raise RuntimeError("injected kernel bug while answering a challenge")

    AcmeSession.answer_challenge = broken  # type: ignore[method-assign]


if __name__ == "__main__":
    point, _python, dash_m, module, *args = sys.argv[1:]
    assert (dash_m, module) == ("-m", "certkernel"), sys.argv
    _inject(point)
    from certkernel.main import main

    sys.exit(main(args))
