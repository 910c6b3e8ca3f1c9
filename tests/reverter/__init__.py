"""Checkpoint (reverter) and rollback tests on real files and processes."""
