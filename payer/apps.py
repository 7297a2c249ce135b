from django.apps import AppConfig


class PayerConfig(AppConfig):
    name = "payer"
    verbose_name = "Payer claims (HCMS)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from followup import sources
        from payer import flow, worklist
        from payer.service import SERVICE
        from revcycle import engine, schedules, services

        services.register(SERVICE)
        services.register_ticket_kind(flow.TICKET_KIND)
        engine.register(flow.ENGINE_KIND)
        schedules.register(flow.PRUNE_WEBHOOKS)
        sources.register(worklist.DOMAIN)
