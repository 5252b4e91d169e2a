"""Recommendations: requests, results, feedback and the rule-based scorer."""
