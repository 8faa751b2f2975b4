"""Accounts: signup, login, devices, tokens, and who may touch which namespace."""
