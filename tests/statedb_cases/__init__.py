"""Test bodies shared by the SQLite (tests/unit) and PostgreSQL (tests/integration) runs.

Classes here are not collected on their own (their names do not start with ``Test``); a test
module subclasses them and provides the ``state_db_url`` fixture. See tests/statedb_fixtures.py.
"""
