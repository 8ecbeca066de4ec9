"""Demo data and helpers."""
