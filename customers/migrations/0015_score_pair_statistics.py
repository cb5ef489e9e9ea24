"""PostgreSQL statistics of how the score table's labels occur together.

The planner takes filters on two columns as independent: for value segment "high" and lifecycle
stage "at risk" it expected 27,305 of a million customers where 6,630 are, so the list counted
them by walking both tables' primary keys (about 600 ms) instead of combining the two labels'
indexes. A most-common-values statistic per pair of label columns gives it every combination's
share (at most 8 x 5 of them, within the list of 100 it keeps). The score run's replacement
table copies them (core.table_swap) and its ANALYZE builds them.
"""
from itertools import combinations

from django.db import migrations

# The score columns that hold labels (choices), which the list and the API filter on by value.
LABELS = ("rfm_segment", "value_segment", "value_tier", "churn_risk", "lifecycle_stage", "satisfaction_group")
PAIRS = tuple(combinations(LABELS, 2))


def _name(first: str, second: str) -> str:
    return f"score_{first}_{second}_mcv"[:63]


def add_statistics(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for first, second in PAIRS:
        schema_editor.execute(f"CREATE STATISTICS IF NOT EXISTS {_name(first, second)} (mcv) "
                              f"ON {first}, {second} FROM customers_customerscore")
    schema_editor.execute("ANALYZE customers_customerscore")


def drop_statistics(apps, schema_editor):
    """Every statistic of the score table: a score run's swap keeps the names, but drop by table."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT stxnamespace::regnamespace::text, stxname FROM pg_statistic_ext "
                       "WHERE stxrelid = 'customers_customerscore'::regclass")
        found = cursor.fetchall()
    for schema, name in found:
        schema_editor.execute(f"DROP STATISTICS {schema}.{connection.ops.quote_name(name)}")


class Migration(migrations.Migration):

    dependencies = [("customers", "0014_customer_score")]

    operations = [migrations.RunPython(add_statistics, drop_statistics)]
