"""Cross-cutting API pieces: the one error shape, permissions, throttles."""
