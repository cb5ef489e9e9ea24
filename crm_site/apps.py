"""The admin app with the project's site as its default: ``admin.site`` and every
``@admin.register`` use :class:`customers.admin_site.CrmAdminSite`, which keeps customers'
contact details from users without ``customers.view_pii`` on every model admin."""
from django.contrib.admin.apps import AdminConfig


class CrmAdminConfig(AdminConfig):
    default_site = "customers.admin_site.CrmAdminSite"
