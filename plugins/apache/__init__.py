"""certkernel's Apache httpd plugin: http-01 authenticator and installer.

Runs as its own process (``python -m certkernel.plugins.apache``) and talks
to the kernel through the SDK; the modules below it have one job each:
``syntax`` (one file's text), ``config`` (the whole configuration as httpd
sees it), ``vhosts`` (virtual hosts and choosing one), ``ctl`` (running
apache2ctl), ``installer``/``enhance``/``http01`` (the changes).
"""
