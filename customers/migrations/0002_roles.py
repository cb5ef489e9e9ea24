from django.db import migrations

from customers.roles import sync_roles_migration


class Migration(migrations.Migration):
    """Create the Manager, Sales and Service groups with their permissions."""

    dependencies = [
        ("customers", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(sync_roles_migration, migrations.RunPython.noop)]
