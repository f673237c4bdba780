"""The "E-mails" portal page: the organization's wording of each attendee e-mail, with a live preview."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import org_view
from events import emails
from events.forms import apply_domain_error
from events.models import EmailKind, EmailTemplate
from portal.errors import DomainError

FIELD_LABELS = {"subject": "Subject", "body_text": "Text", "body_html": "HTML"}


class EmailTemplateForm(forms.Form):
    subject = forms.CharField(max_length=200, strip=False, widget=forms.TextInput(attrs={"class": "code"}))
    body_text = forms.CharField(
        label="Text",
        max_length=20000,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "class": "code", "spellcheck": "false"}),
        help_text="Every e-mail program shows this version when it cannot show HTML.",
    )
    body_html = forms.CharField(
        label="HTML",
        required=False,
        max_length=50000,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "class": "code", "spellcheck": "false"}),
        help_text="The content of the e-mail (the header and footer are added). Leave empty to send the text as HTML.",
    )

    def __init__(self, *args, org, kind: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.org, self.kind = org, kind

    def source(self) -> emails.EmailSource:
        data = self.cleaned_data
        return emails.EmailSource(subject=data["subject"].strip(), body_text=data["body_text"], body_html=data["body_html"])

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors:
            for field, message in emails.template_problems(
                self.source(), emails.sample_context(self.org, kind=self.kind)
            ).items():
                self.add_error(field, message)
        return data


def _kind(kind: str) -> str:
    if kind not in EmailKind.values:
        raise Http404("No such e-mail")
    return kind


def _preview(org, kind: str, form: EmailTemplateForm) -> dict:
    """The preview's context: the rendered e-mail, or the problems that stop it, by field."""
    if not form.is_valid():
        problems = [(FIELD_LABELS.get(field, ""), error) for field, errors in form.errors.items() for error in errors]
        return {"preview": None, "problems": problems}
    try:
        return {"preview": emails.preview(org=org, kind=kind, source=form.source()), "problems": []}
    except emails.TemplateProblem as exc:
        return {"preview": None, "problems": [(FIELD_LABELS.get(getattr(exc, "field", ""), ""), str(exc))]}


@org_view("emails.manage")
@require_GET
def email_list(request: HttpRequest) -> HttpResponse:
    overrides = {t.kind: t for t in EmailTemplate.objects.for_org(request.organization)}
    kinds = [
        {"value": value, "label": label, "help": emails.KIND_HELP[value], "override": overrides.get(value)}
        for value, label in EmailKind.choices
    ]
    return render(request, "events/email_list.html", {"nav": "emails", "kinds": kinds})


@org_view("emails.manage")
@require_http_methods(["GET", "POST"])
def email_edit(request: HttpRequest, kind: str) -> HttpResponse:
    org, kind = request.organization, _kind(kind)
    source, override = emails.email_source(org=org, kind=kind)
    if request.method == "POST":
        form = EmailTemplateForm(request.POST, org=org, kind=kind)
        if form.is_valid():
            data = form.source()
            try:
                emails.email_template_save(
                    org=org,
                    actor=request.user,
                    kind=kind,
                    subject=data.subject,
                    body_text=data.body_text,
                    body_html=data.body_html,
                )
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(request, f"Saved: attendees now get your wording of “{EmailKind(kind).label}”.")
                return redirect("events:email-edit", org.slug, kind)
    else:
        # bound to what is in use now, so the page opens with its preview
        data = {"subject": source.subject, "body_text": source.body_text, "body_html": source.body_html}
        form = EmailTemplateForm(data, org=org, kind=kind)
    return render(
        request,
        "events/email_edit.html",
        {
            "nav": "emails",
            "kind": kind,
            "kind_label": EmailKind(kind).label,
            "kind_help": emails.KIND_HELP[kind],
            "override": override,
            "form": form,
            "variables": emails.VARIABLES.items(),
            **_preview(org, kind, form),
        },
    )


@org_view("emails.manage")
@require_POST
def email_preview(request: HttpRequest, kind: str) -> HttpResponse:
    org, kind = request.organization, _kind(kind)
    form = EmailTemplateForm(request.POST, org=org, kind=kind)
    return render(request, "events/email_edit.html#email-preview", {"kind": kind, **_preview(org, kind, form)})


@org_view("emails.manage")
@require_POST
def email_reset(request: HttpRequest, kind: str) -> HttpResponse:
    org, kind = request.organization, _kind(kind)
    if emails.email_template_reset(org=org, actor=request.user, kind=kind):
        messages.success(request, f"“{EmailKind(kind).label}” uses the built-in wording again.")
    return redirect("events:email-edit", org.slug, kind)
