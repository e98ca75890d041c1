"""API test bodies, run by tests/unit (SQLite files) and tests/integration (PostgreSQL): test
modules subclass these classes and say which database ``state_db_url`` is."""
