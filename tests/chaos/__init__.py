"""Crash and fault tests of concertd (kill -9 under load, PostgreSQL/Redis outages, an instance
lost), built on the integration harness in tests/integration (see conftest.py)."""
