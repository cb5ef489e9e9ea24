"""The embedded default e-mail backend: messages are kept in the database (the outbox staff open
at /campaigns/outbox/) instead of leaving the machine. Set EMAIL_BACKEND to Django's SMTP backend
or an anymail backend to send for real (README "Configuration")."""
from __future__ import annotations

from django.core.mail.backends.base import BaseEmailBackend


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        from .models import OutboxMessage

        rows = []
        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []) or []:
                if mimetype == "text/html":
                    html = content
            rows.append(OutboxMessage(
                from_email=message.from_email, to=", ".join(message.recipients()),
                subject=message.subject, body_text=message.body, body_html=html,
                headers={str(k): str(v) for k, v in (message.extra_headers or {}).items()}))
        OutboxMessage.objects.bulk_create(rows)
        return len(rows)
