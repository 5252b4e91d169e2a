"""Settings live in one module per environment; `base` holds everything they share."""
