"""The synthetic marketplace generator and the ground truth that no model may read."""
