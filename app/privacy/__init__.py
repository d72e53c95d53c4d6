"""Privacy: erase or export one person's data, and retention of comments, identity and bodies."""
