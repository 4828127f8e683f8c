"""Reporting: the nightly aggregation and the report cells, and the queries that read them."""
