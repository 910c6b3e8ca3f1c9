"""Broken on purpose: writes text to the protocol stdout after the handshake."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rawplugin import Faults, serve  # noqa: E402

serve("prints-to-stdout", Faults(stdout_junk=True))
