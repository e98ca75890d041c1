"""Hongguanjia's state database (SQL through SQLAlchemy 2): alerts and their lifecycle first;
devices, commands, users, consent and audit join with later issues. SQLite is the embedded
default, PostgreSQL the production store; both run the same tests."""
