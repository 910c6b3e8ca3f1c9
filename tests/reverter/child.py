"""A process that changes files under checkpoints and stops where the test says.

``python child.py <work_dir> <scenario> <file> [<file> ...]``. It prints
``READY`` when it reached the point the test kills it at (SIGKILL: no
cleanup of any kind runs), then sleeps. The last path is a file to create.
"""

from __future__ import annotations

import os
import sys
import time

from certkernel.checkpoints.reverter import Reverter

work_dir, scenario, *paths = sys.argv[1:]
existing, new = paths[:-1], paths[-1]


def ready() -> None:
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    time.sleep(60)
    sys.exit(3)  # never reached in a test: the parent kills us first


ROOTS = [os.path.join(os.path.dirname(work_dir), "root")]  # the conftest's layout
rev = Reverter(work_dir, lock_timeout=10)
if scenario == "after_add":
    rev.add(existing, roots=ROOTS)
    ready()
elif scenario == "mid_change":
    rev.add(existing, roots=ROOTS)
    rev.register_new([new], roots=ROOTS)
    with open(new, "wb") as handle:
        handle.write(b"half a new file")
    with open(existing[0], "r+b") as handle:  # a torn, unflushed-looking edit
        handle.truncate(3)
        handle.write(b"\x00garbage")
    ready()
elif scenario == "temporary":
    rev.add(existing, temporary=True, roots=ROOTS)
    rev.register_new([new], temporary=True, roots=ROOTS)
    with open(new, "w") as handle:
        handle.write("location /.well-known/acme-challenge/ {}\n")
    for path in existing:
        os.chmod(path, 0o666)
        with open(path, "a") as handle:
            handle.write("# challenge\n")
    ready()
elif scenario == "loop":
    # Change, checkpoint, roll back, forever; killed at an arbitrary instant.
    i = 0
    while True:
        i += 1
        rev.add(existing, temporary=True, roots=ROOTS)
        with open(existing[0], "a") as handle:
            handle.write(f"# temp {i}\n")
        rev.revert_temporary()
        rev.add(existing, roots=ROOTS)
        rev.register_new([new], roots=ROOTS)
        with open(new, "w") as handle:
            handle.write(f"new {i}\n")
        for path in existing:
            with open(path, "wb") as handle:
                handle.write(f"edit {i}\n".encode() * 50)
        rev.finalize(f"loop {i}")
        rev.rollback(1)
        if i == 1:
            sys.stdout.write("READY\n")
            sys.stdout.flush()
else:
    sys.exit(f"unknown scenario {scenario}")
