"""Checkpoints (the reverter): the kernel's backups of the files installers change, so rollback and crash recovery work even when a plugin died."""
