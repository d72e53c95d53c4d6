"""Acting on experience data: alert rules, follow-ups of unhappy answers, team digests."""
