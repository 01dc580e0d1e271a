"""The ground every service stands on: errors, conditional updates, the audit trail, the clock and bounded caches."""
