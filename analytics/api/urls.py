from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("score-runs", views.ScoreRunViewSet, basename="api-score-run")
router.register("segments", views.SegmentProfileViewSet, basename="api-segment")
router.register("bundles", views.AssociationRuleViewSet, basename="api-bundle")

urlpatterns = router.urls
