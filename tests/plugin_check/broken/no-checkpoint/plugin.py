"""Broken on purpose: deploy_cert edits <server-root>/site.conf without checkpoint/add."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rawplugin import Faults, serve  # noqa: E402

serve("no-checkpoint", Faults(unsafe_save=True))
