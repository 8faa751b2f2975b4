"""Driftbox's thin sync client: link a folder, and it stays in sync with every other device."""
