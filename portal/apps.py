from django.apps import AppConfig


class PortalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal"

    def ready(self) -> None:
        from portal.oauth import tokens  # noqa: F401 (connects the receivers that forget revoked tokens)
