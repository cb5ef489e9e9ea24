# The intake's models, moved from the customers app with their tables (customers_importjob,
# customers_customermerge) and rows untouched.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


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
                name='CustomerMerge',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('field_choices', models.JSONField(blank=True, default=dict, help_text="Field -> 'survivor' or 'duplicate'.", verbose_name='field choices')),
                    ('survivor_before', models.JSONField(default=dict, verbose_name="survivor's values before")),
                    ('duplicate_before', models.JSONField(default=dict, verbose_name="duplicate's values before")),
                    ('moved', models.JSONField(default=dict, help_text='Ids of the orders, feedback and interactions moved.', verbose_name='moved records')),
                    ('merged_at', models.DateTimeField(auto_now_add=True, verbose_name='merged at')),
                    ('undone_at', models.DateTimeField(blank=True, null=True, verbose_name='undone at')),
                    ('duplicate', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='merges_given', to='customers.customer', verbose_name='duplicate')),
                    ('merged_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='customer_merges', to=settings.AUTH_USER_MODEL, verbose_name='merged by')),
                    ('survivor', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='merges_received', to='customers.customer', verbose_name='survivor')),
                    ('undone_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='undone by')),
                ],
                options={
                    'verbose_name': 'customer merge',
                    'verbose_name_plural': 'customer merges',
                    'db_table': 'customers_customermerge',
                    'ordering': ['-merged_at', '-id'],
                },
            ),
            migrations.CreateModel(
                name='ImportJob',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('kind', models.CharField(choices=[('customers', 'Customers'), ('products', 'Products'), ('orders', 'Orders'), ('feedback', 'Feedback'), ('interactions', 'Interactions')], max_length=20, verbose_name='kind')),
                    ('file', models.FileField(upload_to='imports/%Y/%m/', verbose_name='file')),
                    ('original_name', models.CharField(blank=True, max_length=255, verbose_name='original file name')),
                    ('mapping', models.JSONField(blank=True, default=dict, help_text='File column -> field; an empty field ignores the column.', verbose_name='column mapping')),
                    ('options', models.JSONField(blank=True, default=dict, verbose_name='options')),
                    ('status', models.CharField(choices=[('draft', 'Draft (uploaded, not started)'), ('pending', 'Pending'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed')], default='draft', max_length=10, verbose_name='status')),
                    ('progress', models.PositiveSmallIntegerField(default=0, verbose_name='progress (%)')),
                    ('total', models.PositiveIntegerField(default=0, verbose_name='rows read')),
                    ('created', models.PositiveIntegerField(default=0, verbose_name='created')),
                    ('updated', models.PositiveIntegerField(default=0, verbose_name='updated')),
                    ('unchanged', models.PositiveIntegerField(default=0, verbose_name='unchanged')),
                    ('rejected', models.PositiveIntegerField(default=0, verbose_name='rejected')),
                    ('errors_file', models.FileField(blank=True, upload_to='imports/rejected/%Y/%m/', verbose_name='rejected rows (CSV)')),
                    ('error', models.TextField(blank=True, verbose_name='error')),
                    ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                    ('started_at', models.DateTimeField(blank=True, null=True, verbose_name='started at')),
                    ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='finished at')),
                    ('lease_expires_at', models.DateTimeField(blank=True, null=True, verbose_name='lease expires at')),
                    ('created_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='import_jobs', to=settings.AUTH_USER_MODEL, verbose_name='created by')),
                ],
                options={
                    'verbose_name': 'import job',
                    'verbose_name_plural': 'import jobs',
                    'db_table': 'customers_importjob',
                    'ordering': ['-created_at', '-id'],
                    'permissions': [('view_data_quality', 'Can see the data quality page')],
                    'constraints': [models.CheckConstraint(condition=models.Q(('progress__lte', 100)), name='importjob_progress_max_100')],
                },
            ),
        ], database_operations=[]),
    ]
