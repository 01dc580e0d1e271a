"""Lab management: kit and reagent lots as stock (and, beside it, quality control)."""
