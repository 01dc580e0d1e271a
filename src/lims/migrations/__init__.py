"""Alembic migrations of the LIMS schema."""
