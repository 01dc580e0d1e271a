"""Test results: judging, instrument ingest and the holding queue, the review workflow and its use cases."""

# Stored results and held readings wake the live streams of every worker (session events registered on import).
from lims.services.core import shared as _shared  # noqa: F401
