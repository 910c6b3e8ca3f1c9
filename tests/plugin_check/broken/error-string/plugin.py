"""Broken on purpose: sends errors as plain strings."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rawplugin import Faults, serve  # noqa: E402

serve("error-string", Faults(error_shape="string"))
