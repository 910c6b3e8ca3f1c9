"""Broken on purpose: sends error maps without a code."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rawplugin import Faults, serve  # noqa: E402

serve("error-no-code", Faults(error_shape="no-code"))
