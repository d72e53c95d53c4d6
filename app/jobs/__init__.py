"""The job queue: rows in `jobs`, claimed with FOR UPDATE SKIP LOCKED, ticked by APScheduler."""
