from django.urls import path

from . import views

app_name = "intake"
urlpatterns = [
    path("import/", views.import_upload, name="import"),
    path("import/<int:pk>/preview/", views.import_job_preview, name="preview"),
    path("import/<int:pk>/", views.import_job_detail, name="job"),
    path("import/<int:pk>/progress/", views.import_job_progress, name="job-progress"),
    path("import/<int:pk>/rejected.csv", views.import_job_rejected, name="job-rejected"),
    path("import/<int:pk>/file/", views.import_job_file, name="job-file"),
    path("duplicates/", views.duplicate_list, name="duplicates"),
    path("quality/", views.data_quality, name="quality"),
    path("duplicates/merge/<int:survivor>/<int:duplicate>/", views.merge_customers, name="merge"),
    path("merges/<int:pk>/undo/", views.merge_undo, name="merge-undo"),
]
