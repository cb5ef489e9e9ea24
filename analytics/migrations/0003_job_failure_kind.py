"""Failed jobs keep their kind of failure, for the sentence the pages show; the raw error stays
in ``error``. Jobs that failed before are given the kind their recorded error shows."""

from django.db import migrations, models

from core.failures import legacy_failures_classify


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0002_chunked_runs'),
    ]

    operations = [
        migrations.AddField(
            model_name='scorerun',
            name='error_kind',
            field=models.CharField(blank=True, choices=[('database_busy', 'The database was busy'), ('unreadable_file', 'The file cannot be read'), ('worker_lost', 'The worker stopped'), ('not_enough_history', 'Not enough history'), ('out_of_resources', 'Out of memory or time'), ('unexpected', 'Unexpected error')], max_length=20, verbose_name='kind of failure'),
        ),
        migrations.AddField(
            model_name='scorerun',
            name='error_params',
            field=models.JSONField(blank=True, default=dict, verbose_name='failure details for the message'),
        ),
        migrations.AlterField(
            model_name='scorerun',
            name='error',
            field=models.TextField(blank=True, verbose_name='error details'),
        ),
        migrations.RunPython(legacy_failures_classify(app_label="analytics", model_name="ScoreRun"), migrations.RunPython.noop),
    ]
