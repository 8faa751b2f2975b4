"""Metadata: commits, the journal (Get Objects), long-poll, history and restore."""
