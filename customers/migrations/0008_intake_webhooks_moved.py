# The intake and webhook models now belong to their own apps (intake/, webhooks/): they leave
# this app's state only; their tables and rows stay as they are.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0007_drop_customer_pattern_indexes'),
        ('intake', '0001_initial'),
        ('webhooks', '0001_initial'),
    ]

    operations = [
        # The tables exist already (created by the customers app's migrations); only
        # Django's idea of which app owns them changes.
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.RemoveField(
                model_name='importjob',
                name='created_by',
            ),
            migrations.RemoveField(
                model_name='webhookattempt',
                name='delivery',
            ),
            migrations.RemoveField(
                model_name='webhookdelivery',
                name='endpoint',
            ),
            migrations.RemoveField(
                model_name='webhookdelivery',
                name='redelivery_of',
            ),
            migrations.RemoveField(
                model_name='webhookendpoint',
                name='created_by',
            ),
            migrations.DeleteModel(
                name='CustomerMerge',
            ),
            migrations.DeleteModel(
                name='ImportJob',
            ),
            migrations.DeleteModel(
                name='WebhookAttempt',
            ),
            migrations.DeleteModel(
                name='WebhookDelivery',
            ),
            migrations.DeleteModel(
                name='WebhookEndpoint',
            ),
        ], database_operations=[]),
    ]
