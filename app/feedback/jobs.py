"""Job handlers of this domain (registered by name with @handler)."""
