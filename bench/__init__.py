"""Benchmarks that print their figures (`qa bench reader|api`) and the live-server helper they and the tests use.

Above qa/ and api/: it starts the service as a user would (`python -m qa_cli serve`), so nothing below imports it.
"""
