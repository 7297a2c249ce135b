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
        from revcycle.audit import PhiPage, register_phi_pages

        services.register_ticket_kind(flow.TICKET_KIND)
        engine.register(flow.ENGINE_KIND)
        batches.register(export.SPEC)
        sources.register(worklist.DOMAIN)
        # Pages showing patients: they need view_results, and each read is audited.
        register_phi_pages(
            PhiPage("claims:status_home"),
            PhiPage("claims:status_detail", "revcycle.ticket"),
            PhiPage("claims:batch_list"),
            PhiPage("claims:batch_detail", "revcycle.batch"),
        )
