"""Plugins at run time: launching their processes with secrets, sockets, sandbox and storage, recovering from their deaths, and deploying through installers."""
