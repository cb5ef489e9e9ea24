"""Staff pages for customers."""
from __future__ import annotations

from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import Customer, Feedback, Order


def home(request: HttpRequest) -> HttpResponse:
    """The landing page: headline counts and the latest score time."""
    customers = Customer.objects.live().aggregate(
        total=Count("id"),
        scored=Count("id", filter=Q(scores_updated_at__isnull=False)),
        scores_updated_at=Max("scores_updated_at"),
    )
    context = {
        "customers": customers,
        "order_count": Order.objects.count(),
        "feedback_count": Feedback.objects.count(),
    }
    return render(request, "home.html", context)
