"""Staff roles as groups with permissions.

The groups are created by a data migration and re-synced after every ``migrate`` (apps migrated
later, such as campaigns, add permissions the first sync could not see). A permission named here
whose model does not exist yet is skipped, not an error.
"""
from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.utils.translation import gettext_noop

# The group names are stored in English; pages translate them ({% trans role.name %} in 403.html).
MANAGER, SALES, SERVICE = gettext_noop("Manager"), gettext_noop("Sales"), gettext_noop("Service")
ROLES = (MANAGER, SALES, SERVICE)

# Managers get every permission of these apps.
PROJECT_APPS = ("customers", "intake", "webhooks", "analytics", "campaigns")
CRUD = ("view", "add", "change")

ROLE_PERMISSIONS: dict[str, list[str]] = {
    # Staff accounts: grant roles and permissions (customers.view_pii) in the admin; the user
    # admin lets a non-superuser grant only what they hold and never superuser status
    # (customers/admin.py). Tokens: the admin works on the proxy model, whose permissions are
    # its own (see who holds a token, revoke it).
    MANAGER: ["auth.view_user", "auth.change_user", "auth.view_group",
              "authtoken.view_token", "authtoken.add_token", "authtoken.delete_token",
              "authtoken.view_tokenproxy", "authtoken.delete_tokenproxy"],
    SALES: [
        *(f"customers.{a}_customer" for a in CRUD),
        *(f"customers.{a}_order" for a in CRUD),
        *(f"customers.{a}_orderitem" for a in CRUD),
        "customers.view_product", "customers.view_feedback", "customers.view_interaction",
        "customers.add_interaction", "customers.view_pii", "customers.export_customer",
        "customers.import_data",
        *(f"campaigns.{a}_campaign" for a in CRUD),
        "campaigns.view_campaignmember", "analytics.view_scorerun",
        "analytics.view_associationrule",
    ],
    SERVICE: [
        "customers.view_customer", "customers.view_order", "customers.view_orderitem",
        "customers.view_product",
        *(f"customers.{a}_feedback" for a in CRUD),
        *(f"customers.{a}_interaction" for a in CRUD),
        "campaigns.view_servicetask", "campaigns.add_servicetask", "campaigns.change_servicetask",
    ],
}


def sync_roles(apps) -> None:
    """Create the role groups and give each exactly the permissions named for it."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    everything = Permission.objects.filter(content_type__app_label__in=PROJECT_APPS)
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        wanted = set()
        for name in ROLE_PERMISSIONS[role]:
            app_label, codename = name.split(".", 1)
            wanted.update(Permission.objects.filter(
                content_type__app_label=app_label, codename=codename).values_list("pk", flat=True))
        if role == MANAGER:
            wanted.update(everything.values_list("pk", flat=True))
        group.permissions.set(wanted)


def sync_roles_migration(apps, schema_editor) -> None:
    # Permissions are normally created after all migrations; create them now so the groups
    # get them on a fresh database.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps)


def sync_roles_after_migrate(sender, apps=None, **kwargs) -> None:
    # Sent once per app, after that app's permissions exist; sync on each project app so the
    # last one sees them all.
    if apps is None or sender.label not in PROJECT_APPS:
        return
    from django.apps import apps as global_apps

    sync_roles(global_apps)
