from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("webhooks/endpoints", api.WebhookEndpointViewSet, basename="api-webhook-endpoint")
router.register("webhooks/deliveries", api.WebhookDeliveryViewSet, basename="api-webhook-delivery")

urlpatterns = router.urls
