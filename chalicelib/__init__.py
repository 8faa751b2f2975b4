"""Driftbox backend: the code behind the Chalice app in app.py."""
