# The moved models' content types follow them, keeping their permissions and grants.

from django.db import migrations

from core.moves import content_types_move

forward, backward = content_types_move(from_app="customers", to_app="intake", models=("importjob", "customermerge",))


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("customers", "0008_intake_webhooks_moved"),
        ("intake", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, backward)]
