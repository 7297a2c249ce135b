from django.apps import AppConfig


class EligibilityConfig(AppConfig):
    name = "eligibility"
    verbose_name = "Insurance discovery"

    def ready(self) -> None:
        from eligibility import batch, flow, worklist
        from followup import sources
        from revcycle import batches, engine, services
        from revcycle.audit import PhiPage, register_phi_pages

        services.register_ticket_kind(flow.TICKET_KIND)
        engine.register(flow.ENGINE_KIND)
        batches.register(batch.SPEC)
        sources.register(worklist.DOMAIN)
        # Pages showing patients: they need view_results, and each read is audited.
        register_phi_pages(
            PhiPage("eligibility:home"),
            PhiPage("eligibility:result", "revcycle.ticket"),
            PhiPage("eligibility:batch_list"),
            PhiPage("eligibility:batch_detail", "revcycle.batch"),
        )
