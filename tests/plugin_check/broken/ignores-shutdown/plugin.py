"""Broken on purpose: never exits after shutdown, exit or EOF."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rawplugin import Faults, serve  # noqa: E402

serve("ignores-shutdown", Faults(ignore_shutdown=True))
