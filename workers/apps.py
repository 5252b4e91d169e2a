"""Registers the worker's management commands (`train_recommendation_model`) with Django.

Loading this app imports nothing but this module: a web process that lists it stays free of
torch and of the worker's code.
"""

from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"
    label = "workers"
    verbose_name = "Worker commands"
