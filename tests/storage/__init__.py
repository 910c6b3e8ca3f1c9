"""Storage tests: names, keys, lineages, renewal confs, plugin storage."""
