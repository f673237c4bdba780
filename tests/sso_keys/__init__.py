"""A SAML identity provider for tests: its keys, and responses built and signed like a real IdP's."""
