"""Hongguanjia's state database (SQL through SQLAlchemy 2): alerts and their lifecycle, the
device registry, users and the audit log, and remote commands with their timeline; consent joins
with a later issue. SQLite is the embedded default, PostgreSQL the production store; both run
the same tests."""
