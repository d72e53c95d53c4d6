"""Experience scores from responses: docs/scoring.md as SQL and pure formulas."""
