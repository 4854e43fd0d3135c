"""Queries used by the services, one module per feature. Repositories never commit."""
