"""Moving a model from one app to another without touching its table or its rows.

The model's table keeps its name (``Meta.db_table``) and the two apps' migrations move it in
Django's state only (``SeparateDatabaseAndState``). What remains is the content type: renaming
it keeps every permission, group grant and admin log entry that points at it, where letting
Django create a new one would orphan them.
"""
from __future__ import annotations


def content_types_move(*, from_app: str, to_app: str, models: tuple[str, ...]):
    """A ``RunPython`` forward function that gives ``models``' content types to ``to_app``."""

    def forward(apps, schema_editor) -> None:
        ContentType = apps.get_model("contenttypes", "ContentType")
        for model in models:
            old = ContentType.objects.filter(app_label=from_app, model=model).first()
            if old is None:
                continue  # a fresh database: Django creates the new one after migrating
            new = ContentType.objects.filter(app_label=to_app, model=model).first()
            if new is not None:
                # Both exist (a database that ran the new code before this migration): keep the
                # one with the history, move the other's permissions' grants onto it.
                Permission = apps.get_model("auth", "Permission")
                for permission in Permission.objects.filter(content_type=new):
                    twin = Permission.objects.filter(content_type=old, codename=permission.codename).first()
                    if twin is None:
                        permission.content_type = old
                        permission.save(update_fields=["content_type"])
                    else:
                        for group in permission.group_set.all():
                            group.permissions.add(twin)
                        for user in permission.user_set.all():
                            user.user_permissions.add(twin)
                        permission.delete()
                new.delete()
            old.app_label = to_app
            old.save(update_fields=["app_label"])

    def backward(apps, schema_editor) -> None:
        ContentType = apps.get_model("contenttypes", "ContentType")
        ContentType.objects.filter(app_label=to_app, model__in=models).update(app_label=from_app)

    return forward, backward
