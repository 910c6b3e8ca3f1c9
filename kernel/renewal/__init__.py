"""Renewal: which lineages are due, the runner that renews them on a bounded pool, its cache and report, and the schedule (systemd timer or cron) that runs it."""
