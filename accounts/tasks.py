"""django-q2 entry points of the accounts app: ids in, a service or a mail out."""

from __future__ import annotations

from django.core.mail import send_mail
from django.urls import reverse

from accounts.models import Invitation


def invitation_email_send_task(invitation_id: int, base_url: str = "") -> None:
    invitation = (
        Invitation.objects.select_related("organization", "invited_by").filter(pk=invitation_id, accepted_at=None).first()
    )
    if invitation is None:  # revoked or accepted before the worker got to it
        return
    org = invitation.organization
    inviter = invitation.invited_by.display_name if invitation.invited_by else "A colleague"
    url = base_url.rstrip("/") + reverse("accounts:invitation-accept", args=[invitation.token])
    send_mail(
        subject=f"You're invited to join {org.name} on Convene",
        message=(
            f"Hello,\n\n{inviter} invites you to join {org.name} on Convene as {invitation.get_role_display()}.\n\n"
            f"Accept the invitation here:\n{url}\n\n"
            "If you did not expect this invitation, you can ignore this e-mail.\n"
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )
