from django.urls import path

from app.ops import views

app_name = "ops"
urlpatterns = [path("", views.ops_dashboard, name="dashboard")]
