"""Example import files, one per kind (see docs/registry-import.md)."""
