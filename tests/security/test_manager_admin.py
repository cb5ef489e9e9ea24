"""Issue #20 item 22: the README says a Manager can grant ``customers.view_pii`` and manage API
tokens in the admin; the Manager got 403 on both. A Manager must be able to, without being a
superuser, and must not be able to make anyone (themselves included) a superuser or grant more
than they hold."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from rest_framework.authtoken.models import Token

from customers.permissions import can_view_pii

pytestmark = pytest.mark.django_db


def _user_form(user, **changes):
    data = {"username": user.username, "first_name": "", "last_name": "", "email": "",
            "is_active": "on", "is_staff": "on",
            "groups": [g.pk for g in user.groups.all()],
            "user_permissions": [p.pk for p in user.user_permissions.all()]}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def manager(client, role_user):
    user = role_user("Manager")
    client.force_login(user)
    return user


def test_manager_grants_view_pii_to_a_service_user(client, manager, role_user):
    service = role_user("Service")
    url = reverse("admin:auth_user_change", args=[service.pk])
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 200
    assert client.get(url).status_code == 200
    view_pii = Permission.objects.get(codename="view_pii")
    response = client.post(url, _user_form(service, user_permissions=[view_pii.pk]))
    assert response.status_code == 302, response.content.decode()[:3000]
    service = get_user_model().objects.get(pk=service.pk)
    assert can_view_pii(service)


def test_manager_changes_a_users_role(client, manager, role_user):
    service = role_user("Service")
    sales = Group.objects.get(name="Sales")
    response = client.post(reverse("admin:auth_user_change", args=[service.pk]),
                           _user_form(service, groups=[sales.pk]))
    assert response.status_code == 302
    assert list(service.groups.values_list("name", flat=True)) == ["Sales"]


def test_manager_cannot_make_themselves_superuser(client, manager):
    response = client.post(reverse("admin:auth_user_change", args=[manager.pk]),
                           _user_form(manager, is_superuser="on"))
    assert response.status_code in (302, 200, 403)
    manager.refresh_from_db()
    assert not manager.is_superuser


def test_manager_cannot_grant_what_they_do_not_hold(client, manager, role_user):
    service = role_user("Service")
    foreign = Permission.objects.get(codename="change_permission")  # auth.change_permission
    assert not manager.has_perm("auth.change_permission")
    client.post(reverse("admin:auth_user_change", args=[manager.pk]),
                _user_form(manager, user_permissions=[foreign.pk]))
    client.post(reverse("admin:auth_user_change", args=[service.pk]),
                _user_form(service, user_permissions=[foreign.pk]))
    assert not manager.user_permissions.filter(pk=foreign.pk).exists()
    assert not service.user_permissions.filter(pk=foreign.pk).exists()


def test_manager_cannot_touch_a_superuser(client, manager):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    # Viewable (the Manager may view users), not changeable: deactivating it is refused.
    response = client.post(reverse("admin:auth_user_change", args=[root.pk]),
                           {"username": "root", "is_staff": "on"})
    assert response.status_code == 403
    root.refresh_from_db()
    assert root.is_active
    assert client.get(reverse("admin:auth_user_password_change", args=[root.pk])).status_code == 403
    client.post(reverse("admin:auth_user_password_change", args=[root.pk]),
                {"password1": "Taken-over-123", "password2": "Taken-over-123"})
    root.refresh_from_db()
    assert root.check_password("pw")


def test_manager_sees_and_revokes_tokens_but_never_reads_a_key(client, manager, role_user):
    sales = role_user("Sales")
    token = Token.objects.create(user=sales)
    listing = client.get(reverse("admin:authtoken_tokenproxy_changelist"))
    assert listing.status_code == 200
    body = listing.content.decode()
    assert sales.username in body and token.key not in body
    response = client.post(reverse("admin:authtoken_tokenproxy_delete", args=[sales.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Token.objects.filter(user=sales).exists()


def test_sales_and_service_cannot_manage_users_or_tokens(client, role_user):
    for role in ("Sales", "Service"):
        client.force_login(role_user(role))
        assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
        assert client.get(reverse("admin:authtoken_tokenproxy_changelist")).status_code == 403


def test_a_superuser_still_reads_token_keys(client, role_user):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    token = Token.objects.create(user=role_user("Sales"))
    client.force_login(root)
    assert token.key in client.get(reverse("admin:authtoken_tokenproxy_changelist")).content.decode()
