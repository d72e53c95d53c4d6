"""Admin API keys: `Authorization: Bearer xp_…`, stored hashed, scopes admin and read."""
