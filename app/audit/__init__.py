"""Audit log: who (an API key or a signed-in user) did what to what, and when."""
