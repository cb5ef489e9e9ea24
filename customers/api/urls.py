from django.urls import path
from rest_framework.routers import SimpleRouter

from . import tokens, views

router = SimpleRouter()
router.register("customers", views.CustomerViewSet, basename="api-customer")
router.register("products", views.ProductViewSet, basename="api-product")
router.register("orders", views.OrderViewSet, basename="api-order")
router.register("feedback", views.FeedbackViewSet, basename="api-feedback")
router.register("interactions", views.InteractionViewSet, basename="api-interaction")

urlpatterns = [
    path("token/", tokens.TokenView.as_view(), name="api-token"),
    *router.urls,
]
