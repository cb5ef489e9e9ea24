from django.urls import include, path

from . import views

customer_patterns = ([
    path("", views.customer_list, name="list"),
    path("export.csv", views.customer_export, name="export"),
    path("saved-filters/", views.saved_filter_save, name="saved_filter_save"),
    path("saved-filters/<int:pk>/delete/", views.saved_filter_remove, name="saved_filter_delete"),
    path("<int:pk>/", views.customer_detail, name="detail"),
], "customers")

urlpatterns = [
    path("customers/", include(customer_patterns)),
    path("account/api-token/", views.api_token, name="api_token"),
]
