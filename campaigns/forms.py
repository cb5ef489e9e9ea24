"""Forms for the staff pages. :class:`AudienceForm` is also what the API validates an audience
definition with, so the page and the API accept exactly the same filters."""
from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils import formats
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from analytics.engine.churn import HIGH_RISK_THRESHOLD, MEDIUM_RISK_THRESHOLD
from analytics.models import AssociationRule
from core.formatting import currency_code
from core.widgets import IsoDateInput
from customers.models import Customer, Level, LifecycleStage, Product, RfmSegment

from .models import Campaign, ServiceTask
from .permissions import campaign_kinds
from .selectors import uplift_model_credible

BUNDLE_CHOICES = 50


# Largest id a BigAutoField holds; a larger one made SQLite raise OverflowError (a 500).
MAX_ID = 2**63 - 1


def _id_field() -> forms.IntegerField:
    return forms.IntegerField(min_value=1, max_value=MAX_ID)


def product_names(ids) -> dict[int, str]:
    """Names of the products with these ids: one query."""
    wanted = {int(pid) for pid in ids}
    return dict(Product.objects.filter(pk__in=wanted).values_list("pk", "name")) if wanted else {}


def bundle_label(rule: AssociationRule, names: dict[int, str]) -> str:
    """"Green tea + Honey -> Teapot (lift 1.35)": what a person can choose a bundle by."""
    def listed(ids):
        return " + ".join(names.get(int(pid), f"#{pid}") for pid in ids)

    return _("%(bought)s -> %(offer)s (lift %(lift)s)") % {
        "bought": listed(rule.antecedents), "offer": listed(rule.consequents),
        "lift": formats.number_format(round(rule.lift, 2), 2, use_l10n=True)}


class ListField(forms.Field):
    """A list given as a JSON list (API) or a comma-separated string (form)."""

    def __init__(self, *, item: forms.Field, **kwargs):
        self.item = item
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in (None, "", []):
            return []
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            raise forms.ValidationError(_("Enter a list of values."))
        return [self.item.clean(part) for part in value]

    def prepare_value(self, value):
        return ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else value


class AudienceForm(forms.Form):
    rfm_segments = forms.MultipleChoiceField(label=_("RFM segments"), choices=RfmSegment.choices,
                                             required=False, widget=forms.CheckboxSelectMultiple)
    value_segments = forms.MultipleChoiceField(
        label=_("Value segments"), choices=Level.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Groups of customers with similar recency, frequency and spending."))
    value_tiers = forms.MultipleChoiceField(
        label=_("Value tiers"), choices=Level.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("By predicted 12-month CLV: the highest, middle and lowest ranked customers."))
    # The customers' stored band (analytics.engine.churn.risk_band), which the customer list's
    # churn risk filter also reads: no threshold to guess in "Churn probability from".
    churn_risks = forms.MultipleChoiceField(
        label=_("Churn risk"), choices=Level.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=lazy(lambda: _(
            "The same bands as the customer list's churn risk filter: high from %(high)s %% churn "
            "probability, medium from %(medium)s %%, low below.") % {
            "high": round(HIGH_RISK_THRESHOLD * 100), "medium": round(MEDIUM_RISK_THRESHOLD * 100)}, str)())
    lifecycle_stages = forms.MultipleChoiceField(label=_("Lifecycle stages"),
                                                 choices=LifecycleStage.choices, required=False,
                                                 widget=forms.CheckboxSelectMultiple)
    churn_min = forms.FloatField(label=_("Churn probability from"), required=False, min_value=0, max_value=1)
    churn_max = forms.FloatField(label=_("Churn probability to"), required=False, min_value=0, max_value=1)
    clv_min = forms.FloatField(label=_("12-month CLV from"), required=False, min_value=0)
    clv_max = forms.FloatField(label=_("12-month CLV to"), required=False, min_value=0)
    sentiment_min = forms.FloatField(label=_("Sentiment from"), required=False, min_value=-1, max_value=1)
    sentiment_max = forms.FloatField(label=_("Sentiment to"), required=False, min_value=-1, max_value=1)
    regions = ListField(label=_("Regions"), item=forms.CharField(max_length=100),
                        help_text=_("Comma-separated."))
    no_contact_days = forms.IntegerField(
        label=_("No contact for (days)"), required=False, min_value=1, max_value=3650,
        help_text=_("Only customers with no interaction in this many days."))
    negative_feedback_days = forms.IntegerField(
        label=_("Negative feedback within (days)"), required=False, min_value=1, max_value=3650)
    # Product ids underneath (the API takes ids); on the page static/js/product-picker.js turns
    # the field into a search by name. Without JavaScript the ids can still be typed.
    bought_any = ListField(label=_("Bought any of"), item=_id_field(),
                           widget=forms.TextInput(attrs={"data-product-picker": "1"}),
                           help_text=_("Products, by name; comma-separated product ids without JavaScript."))
    not_bought_any = ListField(label=_("Never bought any of"), item=_id_field(),
                               widget=forms.TextInput(attrs={"data-product-picker": "1"}),
                               help_text=_("Products, by name; comma-separated product ids without JavaScript."))
    include_customers = ListField(
        label=_("Also include (customer ids)"), item=_id_field(),
        help_text=_("Customers added by hand; they join the random control draw like everyone."))

    uplift_top_n = forms.IntegerField(
        label=_("Only the customers the campaign most likely changes"), required=False, min_value=1,
        max_value=10_000_000,
        help_text=_("The N customers with the highest predicted incremental conversions, by the uplift model "
                    "learnt from finished campaigns with this objective; a control group is still held out, "
                    "so the choice is measured."))
    uplift_positive_profit = forms.BooleanField(
        label=_("Only customers whose predicted incremental profit is positive"), required=False,
        help_text=_("Predicted extra conversions times the margin on their usual order, less the discount on "
                    "every conversion (also those that would have happened anyway) and the cost of the "
                    "contact."))
    uplift_margin = forms.FloatField(label=_("Gross margin on an order (0 to 1)"), required=False,
                                     min_value=0, max_value=1)
    uplift_objective = forms.ChoiceField(choices=[("", "")] + list(Campaign.Objective.choices), required=False,
                                         widget=forms.HiddenInput)
    # The campaign's offer, for the profit rule (set from the campaign form, or passed by the API).
    uplift_discount = forms.FloatField(required=False, min_value=0, max_value=1, widget=forms.HiddenInput)
    uplift_contact_cost = forms.FloatField(required=False, min_value=0, max_value=1_000_000,
                                           widget=forms.HiddenInput)
    uplift_days = forms.IntegerField(required=False, min_value=1, max_value=365, widget=forms.HiddenInput)

    def __init__(self, *args, objective: str | None = None, offer: dict | None = None, **kwargs):
        """``objective``: the campaign's, whose uplift model the uplift rules use; ``offer``: its
        ``discount`` (a fraction), ``contact_cost`` and attribution ``days``, for the profit rule.
        The API passes ``uplift_objective`` and the ``uplift_*`` values in the audience instead."""
        super().__init__(*args, **kwargs)
        self.objective = objective
        self.offer = offer or {}
        # Amounts are in the product's one currency: say which.
        for name, label in (("clv_min", _("12-month CLV from (%(currency)s)")),
                            ("clv_max", _("12-month CLV to (%(currency)s)"))):
            self.fields[name].label = label % {"currency": currency_code()}

    def clean(self):
        data = super().clean()
        uplift_rules = [name for name in ("uplift_top_n", "uplift_positive_profit") if data.get(name)]
        if uplift_rules:
            objective = data.get("uplift_objective") or self.objective or ""
            if uplift_model_credible(objective) is None:
                self.add_error(uplift_rules[0], _(
                    "No uplift model for this objective is better than random targeting yet (too few "
                    "finished campaigns with a control group, or its Qini interval includes 0). Target by "
                    "churn risk instead."))
            data["uplift_objective"] = objective
        else:
            data["uplift_objective"] = ""
        if data.get("uplift_positive_profit"):
            if data.get("uplift_margin") is None:
                self.add_error("uplift_margin", _("Give the margin on an order to weigh the profit."))
            for field, key, default in (("uplift_discount", "discount", 0.0),
                                        ("uplift_contact_cost", "contact_cost", 0.0), ("uplift_days", "days", 30)):
                if data.get(field) is None:
                    data[field] = self.offer.get(key, default)
        else:
            for field in ("uplift_margin", "uplift_discount", "uplift_contact_cost", "uplift_days"):
                data[field] = None
        for low, high in (("churn_min", "churn_max"), ("clv_min", "clv_max"),
                          ("sentiment_min", "sentiment_max")):
            if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
                self.add_error(high, _("Must not be below the lower bound."))
        products = set(data.get("bought_any") or []) | set(data.get("not_bought_any") or [])
        if products:
            known = set(Product.objects.filter(pk__in=products).values_list("pk", flat=True))
            for field in ("bought_any", "not_bought_any"):
                unknown = sorted(set(data.get(field) or []) - known)
                if unknown:
                    self.add_error(field, _("Unknown product ids: %(ids)s.") % {
                        "ids": ", ".join(map(str, unknown))})
        included = data.get("include_customers") or []
        if included:
            known = set(Customer.objects.live().filter(pk__in=included).values_list("pk", flat=True))
            unknown = sorted(set(included) - known)
            if unknown:
                self.add_error("include_customers", _("Unknown customer ids: %(ids)s.") % {
                    "ids": ", ".join(map(str, unknown))})
            else:
                data["include_customers"] = list(dict.fromkeys(included))
        return data

    def audience(self) -> dict:
        """The cleaned definition without empty filters, as stored on the campaign."""
        return {key: value for key, value in self.cleaned_data.items()
                if value is not False and value not in (None, "", [])}


class PowerForm(forms.Form):
    """What the power check needs besides the audience: the campaign's objective, control share
    and attribution window, with the model's bounds and defaults (the preview of a form being
    edited may not have them all yet)."""

    objective = forms.ChoiceField(choices=Campaign.Objective.choices, required=False)
    control_share = forms.DecimalField(required=False, min_value=0, max_value=Decimal("0.9"),
                                       max_digits=3, decimal_places=2)
    attribution_days = forms.IntegerField(required=False, min_value=1, max_value=365)

    def parameters(self) -> dict:
        data = self.cleaned_data
        share = data.get("control_share")
        days = data.get("attribution_days")
        return {
            "objective": data.get("objective") or None,
            "control_share": float(share if share is not None
                                   else Campaign._meta.get_field("control_share").default),
            "attribution_days": days or Campaign._meta.get_field("attribution_days").default,
        }


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["name", "objective", "kind", "channel", "starts_on", "ends_on", "discount_percent",
                  "coupon_pattern", "recommend_products", "bundle", "cost_per_contact",
                  "attribution_days", "task_due_days", "frequency_cap_days", "control_share", "seed"]
        widgets = {"starts_on": IsoDateInput(), "ends_on": IsoDateInput()}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # The strongest rules only: a select of thousands of bundles helps nobody.
        strongest = AssociationRule.objects.order_by("-lift").values_list("pk", flat=True)[:BUNDLE_CHOICES]
        rules = AssociationRule.objects.filter(pk__in=list(strongest)).order_by("-lift")
        self.fields["bundle"].queryset = rules
        # One query for the names of every product in the listed rules.
        names = product_names(pid for rule in rules for pid in [*rule.antecedents, *rule.consequents])
        self.fields["bundle"].label_from_instance = lambda rule: bundle_label(rule, names)
        if user is not None:
            self.fields["kind"].choices = campaign_kinds(user)
        self.fields["cost_per_contact"].label = _("Cost per contact (%(currency)s)") % {"currency": currency_code()}


class ServiceTaskForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=ServiceTask.Status.choices)
    outcome = forms.CharField(label=_("Outcome notes"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 2}))


class ServiceTaskCreateForm(forms.Form):
    """A service task for one customer, made by hand on the customer 360."""

    assignee = forms.ModelChoiceField(label=_("Assign to"), queryset=None)
    due_on = forms.DateField(label=_("Due"), widget=IsoDateInput())
    note = forms.CharField(label=_("What to do"), max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        from .services import service_assignees

        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = service_assignees()
        self.fields["assignee"].label_from_instance = lambda user: user.get_full_name() or user.username


class CampaignAddForm(forms.Form):
    campaign = forms.ModelChoiceField(label=_("Campaign"), queryset=Campaign.objects.all())


class MessageTemplateForm(forms.Form):
    """One language's message; all three fields blank removes it."""

    subject = forms.CharField(label=_("Subject"), max_length=200, required=False)
    body_text = forms.CharField(label=_("Plain-text body"), max_length=20_000, required=False,
                                widget=forms.Textarea(attrs={"rows": 8}))
    body_html = forms.CharField(label=_("HTML body"), max_length=50_000, required=False,
                                widget=forms.Textarea(attrs={"rows": 8}),
                                help_text=_("Blank: the plain text, as HTML."))

    def clean(self):
        data = super().clean()
        if (data.get("body_text") or data.get("body_html")) and not (data.get("subject") or "").strip():
            self.add_error("subject", _("A message needs a subject."))
        if (data.get("subject") or "").strip() and not (data.get("body_text") or "").strip():
            self.add_error("body_text", _("A message needs a plain-text body."))
        return data
