"""Delivery logs keep a short status, never the receiver's answer (issue 20 item 6).

Rows logged before kept up to 500 characters of what the receiver answered, which let a Manager
read what an internal service said. They are rewritten to the status class a new attempt stores
(``HTTP 503 (server error)``) before the columns shrink to 120 characters; a network error's text
(which could quote the receiver's bytes, as a bad status line does) becomes "network error".
"""
import django.core.validators
from django.db import migrations, models

import webhooks.models

_KINDS = {1: "informational", 2: "success", 3: "redirect, not followed", 4: "client error", 5: "server error"}
# Written by the services themselves, never by a receiver: kept.
_OWN_NOTES = ("Not sent:",)


def _status(code, text):
    if code is not None:
        return f"HTTP {code} ({_KINDS.get(code // 100, 'unknown')})"
    if not text or text.startswith(_OWN_NOTES):
        return text[:120]
    return "network error"


def scrub_answers(apps, schema_editor):
    for model, field in (("WebhookAttempt", "response"), ("WebhookDelivery", "last_response")):
        rows = apps.get_model("webhooks", model).objects.exclude(**{field: ""})
        code_field = "status_code" if model == "WebhookAttempt" else "last_status_code"
        for row in rows.only("pk", field, code_field).iterator(chunk_size=2000):
            status = _status(getattr(row, code_field), getattr(row, field))
            if status != getattr(row, field):
                setattr(row, field, status)
                row.save(update_fields=[field])


class Migration(migrations.Migration):

    dependencies = [
        # After main's 0004 (which branched from 0002 at the same time): one line of history.
        ('webhooks', '0004_model_drift_event'),
    ]

    operations = [
        migrations.RunPython(scrub_answers, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='webhookattempt',
            name='response',
            field=models.CharField(blank=True, help_text="The attempt's status, such as HTTP 503 (server error) or timed out; the receiver's answer itself is never kept.", max_length=120, verbose_name='status detail'),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='last_response',
            field=models.CharField(blank=True, help_text="The last attempt's status, such as HTTP 503 (server error) or timed out; the receiver's answer itself is never kept.", max_length=120, verbose_name='last status detail'),
        ),
        migrations.AlterField(
            model_name='webhookendpoint',
            name='url',
            field=models.URLField(help_text='Where events are POSTed; http or https.', max_length=500, validators=[django.core.validators.URLValidator(code='scheme', message='Enter an http or https URL.', schemes=['http', 'https']), webhooks.models.validate_public_host], verbose_name='target URL'),
        ),
    ]
