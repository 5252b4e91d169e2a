"""Machine learning for the worker side: the hybrid recommender and its model files.

``metrics`` is plain numpy and safe to import anywhere; ``hybrid`` and ``store``
import torch and belong in worker processes only. Nothing is imported here, so
importing this package stays cheap.
"""
