"""The Hongguanjia HTTP API (FastAPI): staff sign in, see and act on what their communities'
devices report, and every change they make is audited."""
