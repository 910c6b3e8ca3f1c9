"""Broken on purpose: answers more_info with {txt} instead of {text}."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rawplugin import Faults, serve  # noqa: E402

serve("bad-more-info", Faults(more_info="bad"))
