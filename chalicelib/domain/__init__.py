"""Pure rules of the backend: paths, content, cursors and commit decisions (no I/O)."""
