from django.apps import AppConfig


class PayerConfig(AppConfig):
    name = "payer"
    verbose_name = "Payer claims (HCMS)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from payer import flow

        flow.register()
