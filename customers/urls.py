from django.urls import include, path

from . import views

customer_patterns = ([
    path("", views.customer_list, name="list"),
    path("export.csv", views.customer_export, name="export"),
    path("<int:pk>/", views.customer_detail, name="detail"),
], "customers")

urlpatterns = [
    path("", views.home, name="home"),
    path("customers/", include(customer_patterns)),
]
