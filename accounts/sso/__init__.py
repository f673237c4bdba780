"""Enterprise single sign-on: SAML 2.0 per organization through django-allauth (python3-saml underneath)."""
