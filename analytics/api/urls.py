from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("score-runs", views.ScoreRunViewSet, basename="api-score-run")
router.register("segments", views.SegmentProfileViewSet, basename="api-segment")
router.register("bundles", views.AssociationRuleViewSet, basename="api-bundle")
router.register("realised-accuracy", views.RealisedAccuracyViewSet, basename="api-realised-accuracy")

urlpatterns = [
    path("customers/<int:pk>/recommendations/", views.CustomerRecommendationsView.as_view(),
         name="api-customer-recommendations"),
    *router.urls,
]
