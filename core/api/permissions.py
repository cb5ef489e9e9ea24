"""Role checks for every API endpoint: Django model permissions, with ``view_*`` needed to read."""

from __future__ import annotations

from rest_framework.permissions import BasePermission, DjangoModelPermissions


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


class HasPermissions(BasePermission):
    """For views without a model queryset: the user must hold every one of ``required_permissions``
    (a view attribute), whatever the method."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        required = getattr(view, "required_permissions", ())
        return bool(user and user.is_authenticated and all(user.has_perm(p) for p in required))
