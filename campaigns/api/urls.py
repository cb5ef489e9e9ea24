from rest_framework.routers import DefaultRouter

from .views import CampaignViewSet, ServiceTaskViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("service-tasks", ServiceTaskViewSet, basename="service-task")

urlpatterns = router.urls
