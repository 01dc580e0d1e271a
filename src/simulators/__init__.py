"""Programs that behave as quick-test instruments on the same wire protocols, for tests and demos."""
