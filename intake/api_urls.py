from django.urls import path

from . import api

urlpatterns = [
    path("imports/<str:kind>/", api.ImportView.as_view(), name="api-import"),
    path("duplicates/", api.DuplicateListView.as_view(), name="api-duplicates"),
    path("data-quality/", api.DataQualityView.as_view(), name="api-data-quality"),
    path("merges/", api.MergeCreateView.as_view(), name="api-merges"),
    path("merges/<int:pk>/undo/", api.MergeUndoView.as_view(), name="api-merge-undo"),
]
