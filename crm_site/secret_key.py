"""A secret key generated once per installation, kept in a file only its owner can read.

Django signs sessions, password-reset links and CSRF tokens with ``SECRET_KEY``; a key published
in the source would let anyone forge them. When the environment gives none, the first process to
start writes a fresh random key to ``SECRET_KEY_FILE`` (mode 0600) and every later start, and
every other process of the installation, reads it from there.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# Django's check --deploy wants at least 50 characters with at least 5 distinct ones.
KEY_BYTES = 48  # token_urlsafe(48) gives 64 characters


def secret_key_from_file(path: Path) -> str:
    """The key stored at ``path``, created there (0600) if there is none yet.

    Two processes starting at once (a web server and a worker) must end with the same key: each
    writes its candidate to a private temporary file and links it into place, which fails for all
    but the first; the others then read the winner's key.
    """
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(KEY_BYTES) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process came first: use its key
    finally:
        temporary.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"SECRET_KEY_FILE {path} is empty; delete it to have a new key made.")
    return key
