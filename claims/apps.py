from django.apps import AppConfig


class ClaimsConfig(AppConfig):
    name = "claims"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every registry (engine kinds, batch specs, schedules, follow-up domains) is
        # filled the same way: ready() registers declarations the app's modules hold.
        from claims import export, flow, worklist
        from followup import sources
        from revcycle import batches, engine, services

        services.register_ticket_kind(flow.TICKET_KIND)
        engine.register(flow.ENGINE_KIND)
        batches.register(export.SPEC)
        sources.register(worklist.DOMAIN)
