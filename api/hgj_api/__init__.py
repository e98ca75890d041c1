"""The Hongguanjia HTTP API (FastAPI). Grows with the API issue; today it serves health only."""
