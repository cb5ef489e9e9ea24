"""The project's admin site: every model admin registered on it hides customers' contact details
from users without ``customers.view_pii``.

The rule is applied by the site rather than by each admin class, so that an admin another app
registers (campaign members, service tasks, merges, a history admin) cannot forget it: every
``ModelAdmin`` passed to :meth:`CrmAdminSite.register` gets :class:`PiiAdminMixin` mixed in.
For a model with no path to a customer's contact fields the mixin changes nothing.

What the mixin does for a user without ``view_pii`` (:mod:`customers.pii` decides what is PII):

* filters in the URL (``?email__startswith=``, ``?customer__phone__contains=``,
  ``?attributes__id_card=``) are refused with 400 (Django's ``DisallowedModelAdminLookup``),
  so no row count can confirm a guess;
* ordering, list columns, search fields and form fields that reach a contact field are dropped;
* ``attributes`` is shown read-only with its contact and identity keys left out (and those keys
  are kept when the record is saved);
* the history pages (django-simple-history) mask the old and new values of those fields.
"""
from __future__ import annotations

import functools

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from simple_history.template_utils import HistoricalRecordContextHelper

from .permissions import can_view_pii
from .pii import (
    MASK,
    hidden_attributes,
    is_customer_model,
    lookup_reaches_pii,
    pii_field_names,
    visible_attributes,
)

SHOWN_ATTRIBUTES = "shown_attributes"

# Strings of Django's admin templates (app_list.html, 5.2) that Django's own Simplified Chinese
# catalogue lacks: the app list's headings for screen readers. Named here so that makemessages
# keeps their entries in the project's catalogue, which Django reads before its own.
DJANGO_ADMIN_STRINGS = (gettext_noop("Model name"), gettext_noop("Add link"),
                        gettext_noop("Change or view list link"))


class _PiiMaskingHistoryHelper(HistoricalRecordContextHelper):
    """Masks contact fields in a history diff; shows only the visible attributes."""

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def prepare_delta_change_value(self, change, value):
        if change.field == "attributes":
            return visible_attributes(value, user=self.user)
        if change.field in pii_field_names(self.model):
            return MASK if value not in (None, "") else value
        return super().prepare_delta_change_value(change, value)


class _PiiOrdering:
    """Mixed into an admin's changelist class: no ordering by a contact field."""

    def get_ordering(self, request, queryset):
        ordering = super().get_ordering(request, queryset)
        if can_view_pii(request.user):
            return ordering
        return [o for o in ordering if not (isinstance(o, str) and lookup_reaches_pii(self.model, o))]


@functools.cache
def _pii_changelist(changelist: type[ChangeList]) -> type[ChangeList]:
    # Keeps an admin's own changelist class (DRF's token admin maps ids through one).
    return type(f"Pii{changelist.__name__}", (_PiiOrdering, changelist), {})


class PiiAdminMixin:
    """See the module docstring; mixed into every admin of :class:`CrmAdminSite`."""

    def _hides_pii(self, request) -> bool:
        return not can_view_pii(request.user)

    def lookup_allowed(self, lookup, value, request=None):
        # Django calls this for every filter in the changelist URL; False answers 400.
        if request is not None and self._hides_pii(request) and lookup_reaches_pii(self.model, lookup):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_changelist(self, request, **kwargs):
        return _pii_changelist(super().get_changelist(request, **kwargs))

    def _visible_names(self, request, names):
        if not self._hides_pii(request):
            return list(names)
        shown = []
        for name in names:
            if name == "attributes" and is_customer_model(self.model):
                shown.append(SHOWN_ATTRIBUTES)
            elif not (isinstance(name, str) and lookup_reaches_pii(self.model, name)):
                shown.append(name)
        return shown

    def get_fields(self, request, obj=None):
        return self._visible_names(request, super().get_fields(request, obj))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self._hides_pii(request):
            return fieldsets
        return [(name, {**opts, "fields": self._visible_names(request, opts["fields"])})
                for name, opts in fieldsets]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if self._hides_pii(request) and is_customer_model(self.model):
            readonly.append(SHOWN_ATTRIBUTES)
        return readonly

    def get_list_display(self, request):
        return self._visible_names(request, super().get_list_display(request))

    def get_list_filter(self, request):
        return [f for f in super().get_list_filter(request)
                if not (self._hides_pii(request) and isinstance(f, str) and lookup_reaches_pii(self.model, f))]

    def get_search_fields(self, request):
        # Searching by a hidden field would reveal it one guess at a time.
        fields = super().get_search_fields(request)
        if not self._hides_pii(request):
            return fields
        return [f for f in fields if not lookup_reaches_pii(self.model, f)]

    def get_sortable_by(self, request):
        return self._visible_names(request, super().get_sortable_by(request))

    def save_model(self, request, obj, form, change):
        # A user who sees only part of the attributes must not erase the rest by saving.
        if change and is_customer_model(self.model) and self._hides_pii(request) and obj.pk:
            stored = type(obj).objects.filter(pk=obj.pk).values_list("attributes", flat=True).first()
            kept = hidden_attributes(stored, user=request.user)
            if kept:
                obj.attributes = {**(obj.attributes or {}), **kept}
        super().save_model(request, obj, form, change)

    @admin.display(description=_("attributes"))
    def shown_attributes(self, obj):
        # Only in the fields of users without ``view_pii`` (see ``_visible_names``), so the
        # contact and identity keys are always left out here.
        return visible_attributes(getattr(obj, "attributes", None), user=None)

    def get_historical_record_context_helper(self, request, historical_record):
        """simple-history's diff of two history rows, with contact details masked."""
        if not self._hides_pii(request):
            return super().get_historical_record_context_helper(request, historical_record)
        return _PiiMaskingHistoryHelper(self.model, historical_record, user=request.user)


class CrmAdminSite(admin.AdminSite):
    """The default admin site (see ``crm_site.apps.CrmAdminConfig``)."""

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, PiiAdminMixin):
            admin_class = type(admin_class.__name__, (PiiAdminMixin, admin_class),
                               {"__module__": admin_class.__module__})
        super().register(model_or_iterable, admin_class, **options)
