"""Sending SMS through a backend chosen by the SMS_BACKEND setting (like Django's EMAIL_BACKEND).

- ``campaigns.sms.FileBackend`` (the default): one JSON line per message in a file per day under
  SMS_FILE_DIR; nothing leaves the machine.
- ``campaigns.sms.TwilioBackend``: Twilio's Programmable Messaging through the official ``twilio``
  library (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER).
"""
from __future__ import annotations

import json
import uuid
from abc import ABC, abstractmethod
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string


class SmsError(Exception):
    """Sending failed; ``transient`` says whether trying again later may succeed."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


class BaseBackend(ABC):
    @abstractmethod
    def send(self, *, to: str, body: str) -> str:
        """Send one message; return the provider's id for it."""


class FileBackend(BaseBackend):
    def __init__(self, directory: str | None = None):
        self.directory = Path(directory or settings.SMS_FILE_DIR)

    def send(self, *, to: str, body: str) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        message_id = uuid.uuid4().hex
        line = json.dumps({"id": message_id, "to": to, "body": body, "at": timezone.now().isoformat()},
                          ensure_ascii=False)
        with open(self.directory / f"sms-{timezone.now():%Y-%m-%d}.jsonl", "a", encoding="utf-8") as out:
            out.write(line + "\n")
        return message_id


class TwilioBackend(BaseBackend):
    def __init__(self):
        from twilio.rest import Client

        self.client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
        self.from_number = settings.TWILIO_FROM_NUMBER

    def send(self, *, to: str, body: str) -> str:
        from twilio.base.exceptions import TwilioRestException

        try:
            return self.client.messages.create(to=to, from_=self.from_number, body=body).sid
        except TwilioRestException as exc:
            # 429 and 5xx are Twilio's "try again"; anything else (bad number...) will not pass.
            raise SmsError(str(exc), transient=exc.status == 429 or exc.status >= 500) from exc
        except OSError as exc:
            raise SmsError(str(exc), transient=True) from exc


def get_backend() -> BaseBackend:
    return import_string(settings.SMS_BACKEND)()
