"""Broken on purpose: does not implement the optional more_info (a correct plugin)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rawplugin import Faults, serve  # noqa: E402

serve("no-more-info", Faults(more_info="missing"))
