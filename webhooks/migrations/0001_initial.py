# The webhooks' models, moved from the customers app with their tables (customers_webhook*)
# and rows untouched.

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import webhooks.models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('customers', '0007_drop_customer_pattern_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The tables exist already (created by the customers app's migrations); only
        # Django's idea of which app owns them changes.
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.CreateModel(
                name='WebhookEndpoint',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('url', models.URLField(help_text='Where events are POSTed; http or https.', max_length=500, validators=[django.core.validators.URLValidator(code='scheme', message='Enter an http or https URL.', schemes=['http', 'https'])], verbose_name='target URL')),
                    ('description', models.CharField(blank=True, max_length=200, verbose_name='description')),
                    ('secret', models.CharField(default=webhooks.models.new_secret, editable=False, max_length=100, verbose_name='signing secret')),
                    ('events', models.JSONField(default=list, help_text='The event types sent to this endpoint.', verbose_name='events')),
                    ('active', models.BooleanField(default=True, help_text='Inactive endpoints receive no new events.', verbose_name='active')),
                    ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                    ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='webhook_endpoints', to=settings.AUTH_USER_MODEL, verbose_name='created by')),
                ],
                options={
                    'verbose_name': 'webhook endpoint',
                    'verbose_name_plural': 'webhook endpoints',
                    'db_table': 'customers_webhookendpoint',
                    'ordering': ['id'],
                },
            ),
            migrations.CreateModel(
                name='WebhookDelivery',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('event_type', models.CharField(choices=[('customer.churn_risk_high', "Customers' churn risk turned high"), ('campaign.finished', 'A campaign finished'), ('webhook.ping', 'Test event (ping)')], max_length=40, verbose_name='event type')),
                    ('event_id', models.UUIDField(db_index=True, help_text='Same on every attempt and redelivery of the event.', verbose_name='event id')),
                    ('payload', models.JSONField(verbose_name='payload')),
                    ('status', models.CharField(choices=[('pending', 'Pending'), ('succeeded', 'Succeeded'), ('failed', 'Failed')], default='pending', max_length=10, verbose_name='status')),
                    ('attempts', models.PositiveSmallIntegerField(default=0, verbose_name='attempts')),
                    ('last_status_code', models.PositiveSmallIntegerField(blank=True, null=True, verbose_name='last HTTP status')),
                    ('last_response', models.TextField(blank=True, verbose_name='last response or error')),
                    ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                    ('last_attempt_at', models.DateTimeField(blank=True, null=True, verbose_name='last attempt at')),
                    ('next_attempt_at', models.DateTimeField(blank=True, null=True, verbose_name='next attempt at')),
                    ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='finished at')),
                    ('locked_until', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='attempt in flight until')),
                    ('redelivery_of', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='redeliveries', to='webhooks.webhookdelivery', verbose_name='redelivery of')),
                    ('endpoint', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='webhooks.webhookendpoint', verbose_name='endpoint')),
                ],
                options={
                    'verbose_name': 'webhook delivery',
                    'verbose_name_plural': 'webhook deliveries',
                    'db_table': 'customers_webhookdelivery',
                    'ordering': ['-id'],
                },
            ),
            migrations.CreateModel(
                name='WebhookAttempt',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('number', models.PositiveSmallIntegerField(verbose_name='attempt')),
                    ('started_at', models.DateTimeField(verbose_name='started at')),
                    ('duration_ms', models.PositiveIntegerField(verbose_name='duration (ms)')),
                    ('status_code', models.PositiveSmallIntegerField(blank=True, null=True, verbose_name='HTTP status')),
                    ('response', models.TextField(blank=True, verbose_name='response excerpt or error')),
                    ('outcome', models.CharField(choices=[('succeeded', 'Succeeded'), ('retry', 'Failed, will retry'), ('failed', 'Failed, not retried')], max_length=10, verbose_name='outcome')),
                    ('delivery', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attempt_log', to='webhooks.webhookdelivery', verbose_name='delivery')),
                ],
                options={
                    'verbose_name': 'webhook attempt',
                    'verbose_name_plural': 'webhook attempts',
                    'db_table': 'customers_webhookattempt',
                    'ordering': ['delivery', 'number'],
                    'constraints': [models.UniqueConstraint(fields=('delivery', 'number'), name='webhookattempt_unique_number')],
                },
            ),
            migrations.AddIndex(
                model_name='webhookdelivery',
                index=models.Index(fields=['endpoint', '-id'], name='webhookdelivery_endpoint_idx'),
            ),
            migrations.AddIndex(
                model_name='webhookdelivery',
                index=models.Index(fields=['status', 'next_attempt_at'], name='webhookdelivery_due_idx'),
            ),
        ], database_operations=[]),
    ]
