"""Sharing with other platforms: the published-result record, signed webhooks with their outbox and dispatcher."""
