"""Batch analysis against a running service: `facellava analyze` and the request loop `facellava eval` reuses."""
