"""Broken on purpose: fails initialize when its path option is set, as perform-cleanup sets it."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rawplugin import Faults, serve  # noqa: E402

serve("refuses-path", Faults(refuse_path=True))
