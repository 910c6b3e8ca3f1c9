"""Broken on purpose: ignores messages it cannot answer and exits 0 at any end of input, even inside a message."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rawplugin import Faults, serve  # noqa: E402

serve("lenient-decoder", Faults(lenient_decoder=True))
