"""Several workers on one database: the shared store, live wake-ups across processes, throttles and caches."""
