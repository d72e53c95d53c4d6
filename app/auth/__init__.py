"""Who may use XPulse: API keys for machines (`Authorization: Bearer xp_…`, stored hashed,
scopes admin and read) and server-side dashboard sessions for people, signed in with a key or
with OpenID Connect (docs/sign-in.md)."""
