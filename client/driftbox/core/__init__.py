"""Pure logic: no disk, no network, no SQLite. Tested on its own, with Hypothesis where it fits."""
