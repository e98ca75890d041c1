"""Passwords, tokens and permissions: the parts of authentication that know nothing of HTTP."""
