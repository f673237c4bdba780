"""PLACEHOLDER: to be implemented."""


def organization_create(request, **kwargs):
    raise NotImplementedError


def invitation_accept(request, **kwargs):
    raise NotImplementedError


team = member_invite = membership_role = membership_remove = invitation_revoke = audit_log = organization_create
