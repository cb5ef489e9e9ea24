from django.urls import path

from . import views

app_name = "analytics"
urlpatterns = [
    path("segments/", views.segments, name="segments"),
    path("churn/", views.churn, name="churn"),
    path("clv/", views.clv, name="clv"),
    path("bundles/", views.bundles, name="bundles"),
    path("feedback/", views.feedback, name="feedback"),
    path("feedback/wordcloud-<str:language>.png", views.wordcloud, name="wordcloud"),
    path("forecast/", views.forecast, name="forecast"),
    path("accuracy/", views.accuracy, name="accuracy"),
    path("runs/", views.runs, name="runs"),
    path("runs/start/", views.run_start, name="run_start"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/status.json", views.run_status, name="run_status"),
]
