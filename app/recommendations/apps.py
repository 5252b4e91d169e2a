from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "app.recommendations"
    label = "recommendations"
