"""Experience scores from responses: scoring.md as SQL and pure formulas."""
