"""Broken on purpose: chooses protocol version 2 whatever is offered."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rawplugin import Faults, serve  # noqa: E402

serve("wrong-version", Faults(chosen_version=2))
