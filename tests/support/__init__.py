"""Helpers for the fault suite (tests/faults): a real server, a load of writers, a private PostgreSQL."""
