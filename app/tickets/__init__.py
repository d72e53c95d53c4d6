"""The normalised ticket every connector produces."""
