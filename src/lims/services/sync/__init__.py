"""The offline vehicle node and its exactly-once sync with the centre (ownership, outbox, push, pull)."""
