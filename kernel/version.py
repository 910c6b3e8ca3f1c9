"""certkernel's release number.

``certkernel`` is a PEP 420 namespace package shared by two distributions:
``certkernel`` (this kernel, the plugin host, the built-in plugins) and
``certkernel-sdk`` (the protocol and the Python SDK, which a plugin's own
venv holds alone). Neither ships ``certkernel/__init__.py`` -- whichever did
would own the folder, and an editable install of the other could never
contribute to it -- so the version lives here. The SDK's version is its own
(``certkernel.sdk.__version__``).
"""

__version__ = "0.1.0"
