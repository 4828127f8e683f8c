"""Ingestion: what a client may send, the catalogues, the abuse limit and the consent-conditional write."""
