"""Broken on purpose: answers InvalidRequest to a request with a non-string map key instead of exiting 3."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rawplugin import Faults, serve  # noqa: E402

serve("answers-bad-keys", Faults(answer_bad_keys=True))
