"""Who may do what with customer records: one policy, called by every door (pages, API,
admin, exports, intake, campaigns).
"""

from __future__ import annotations

PII_PERMISSION = "customers.view_pii"


def can_view_pii(user) -> bool:
    """Contact details (e-mail, phone, birth date, address) are shown to this user."""
    return bool(user is not None and user.is_authenticated and user.has_perm(PII_PERMISSION))
