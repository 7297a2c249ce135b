from django.apps import AppConfig


class EligibilityConfig(AppConfig):
    name = "eligibility"
    verbose_name = "Insurance discovery"

    def ready(self) -> None:
        from eligibility import batch, flow, worklist
        from followup import sources
        from revcycle import batches, engine, services

        services.register_ticket_kind(flow.TICKET_KIND)
        engine.register(flow.ENGINE_KIND)
        batches.register(batch.SPEC)
        sources.register(worklist.DOMAIN)
