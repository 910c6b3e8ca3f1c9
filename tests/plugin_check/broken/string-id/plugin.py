"""Broken on purpose: sends response ids back as strings (the string 1), like a Perl plugin whose id was used as text."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rawplugin import Faults, serve  # noqa: E402

serve("string-id", Faults(string_id=True))
