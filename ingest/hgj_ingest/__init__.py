"""Hongguanjia ingest: validate device messages, store them in InfluxDB, dead-letter the rest."""
