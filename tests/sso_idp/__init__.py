"""A local SAML identity provider (pysaml2) for browser tests."""
