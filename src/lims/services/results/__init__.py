"""Test results: judging, instrument ingest and the holding queue, the review workflow and its use cases."""
