"""whistle: a deterministic multi-market matching engine."""
