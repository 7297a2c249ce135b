from django.apps import AppConfig


class PayerConfig(AppConfig):
    name = "payer"
    verbose_name = "Payer claims (HCMS)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from followup import sources
        from payer import batch, flow, worklist
        from payer.models import PayerClaim
        from payer.service import SERVICE
        from revcycle import batches, engine, schedules, services
        from revcycle.audit import PhiPage, register_phi_pages

        services.register(SERVICE)
        services.register_ticket_kind(flow.TICKET_KIND)
        engine.register(flow.ENGINE_KIND)
        schedules.register(flow.PRUNE_WEBHOOKS)
        batches.register(batch.SPEC)
        sources.register(worklist.DOMAIN)
        # Pages showing patients: they need view_results, and each read is audited.
        register_phi_pages(PhiPage("payer:list"),
                           PhiPage("payer:detail", PayerClaim._meta.label_lower))
