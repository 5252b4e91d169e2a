"""The operator page `/ops/`: the model being served, how it trained, how it is doing, what changed."""
