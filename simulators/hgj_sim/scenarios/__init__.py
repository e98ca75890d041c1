"""Scenario files (data): see simulators/README.md for the format."""
