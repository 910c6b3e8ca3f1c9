"""Broken on purpose: writes bytes that are not MessagePack (0xc1) to stdout after the handshake."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rawplugin import Faults, serve  # noqa: E402

serve("invalid-bytes", Faults(stdout_invalid=True))
