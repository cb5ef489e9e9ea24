"""Who may do what with customer records: one policy, called by every door (pages, API,
admin, exports, intake, campaigns).
"""

from __future__ import annotations

PII_PERMISSION = "customers.view_pii"


def can_view_pii(user) -> bool:
    """Contact details (e-mail, phone, birth date, address) are shown to this user."""
    return bool(user is not None and user.is_authenticated and user.has_perm(PII_PERMISSION))


OTHERS_INTERACTION_PERMISSION = "customers.change_others_interaction"


def can_change_interaction(user, interaction) -> bool:
    """Whether ``user`` may change or delete ``interaction``: its author may, someone else's only
    a Manager (the role holds ``change_others_interaction``). An interaction with no author (an
    import) counts as someone else's."""
    if user is None or not user.is_authenticated or not user.has_perm("customers.change_interaction"):
        return False
    return (interaction.staff_id is not None and interaction.staff_id == user.pk) or user.has_perm(
        OTHERS_INTERACTION_PERMISSION)
