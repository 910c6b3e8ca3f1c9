"""The command line: flags, the pre-scan, parsing, help and the manual, resolving the configuration, and the verb registry."""
