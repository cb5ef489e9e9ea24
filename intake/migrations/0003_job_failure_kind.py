"""Failed jobs keep their kind of failure, for the sentence the pages show; the raw error stays
in ``error``. Jobs that failed before are given the kind their recorded error shows."""

from django.db import migrations, models

from core.failures import legacy_failures_classify


class Migration(migrations.Migration):

    dependencies = [
        ('intake', '0002_content_types'),
    ]

    operations = [
        migrations.AddField(
            model_name='importjob',
            name='error_kind',
            field=models.CharField(blank=True, choices=[('database_busy', 'The database was busy'), ('unreadable_file', 'The file cannot be read'), ('worker_lost', 'The worker stopped'), ('not_enough_history', 'Not enough history'), ('out_of_resources', 'Out of memory or time'), ('unexpected', 'Unexpected error')], max_length=20, verbose_name='kind of failure'),
        ),
        migrations.AddField(
            model_name='importjob',
            name='error_params',
            field=models.JSONField(blank=True, default=dict, verbose_name='failure details for the message'),
        ),
        migrations.AlterField(
            model_name='importjob',
            name='error',
            field=models.TextField(blank=True, verbose_name='error details'),
        ),
        migrations.RunPython(legacy_failures_classify(app_label="intake", model_name="ImportJob"), migrations.RunPython.noop),
    ]
