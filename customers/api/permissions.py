"""Role checks for the API: Django model permissions, with ``view_*`` required to read."""

from __future__ import annotations

from rest_framework.permissions import DjangoModelPermissions

PII_PERMISSION = "customers.view_pii"


class RoleModelPermissions(DjangoModelPermissions):
    """DRF's model permissions read GET freely; here reading needs the model's view permission.

    The role groups (``customers/roles.py``) hold these permissions, so a Service user may list
    customers but not change them, and only a Manager may delete.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


def can_view_pii(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and user.has_perm(PII_PERMISSION))
