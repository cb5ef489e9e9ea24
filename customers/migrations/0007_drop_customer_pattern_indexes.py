"""Drop the customers table's ``varchar_pattern_ops`` indexes (PostgreSQL only).

Django adds one beside every indexed or unique CharField for ``LIKE 'prefix%'`` lookups. Nothing
here asks for a prefix of an email, phone, region or external id (the list's search uses the
trigram indexes, exact matches the plain ones), but a full score run rewrites every customer row
and so inserts into every index: each unused one cost about 3 % of the run's write.
"""
from django.db import migrations

TABLE = "customers_customer"
COLUMNS = ("email", "phone", "region", "external_id")


def _pattern_indexes(cursor) -> list[tuple[str, str]]:
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
        [TABLE, "%varchar_pattern_ops%"])
    return cursor.fetchall()


def drop_pattern_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name, _definition in _pattern_indexes(cursor):
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def restore_pattern_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS customer_{column}_pattern_idx "
            f"ON {TABLE} ({column} varchar_pattern_ops)")


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0006_importjob_lease"),
    ]

    operations = [
        migrations.RunPython(drop_pattern_indexes, restore_pattern_indexes),
    ]
