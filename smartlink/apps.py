from django.apps import AppConfig
from django.conf import settings


class SmartlinkConfig(AppConfig):
    name = "smartlink"
    verbose_name = "Smart (SmartLink) visits"

    def ready(self) -> None:
        from followup import sources
        from revcycle import engine, schedules, services
        from revcycle.audit import PhiPage, register_phi_pages
        from smartlink import flow, worklist
        from smartlink.service import SERVICE

        services.register(SERVICE)
        services.register_ticket_kind(flow.TICKET_KIND)
        engine.register(flow.ENGINE_KIND)
        sources.register(worklist.DOMAIN)
        # Pages showing patients: they need view_results, and each read is audited.
        register_phi_pages(
            PhiPage("smartlink:desk"),
            PhiPage("smartlink:visit", "smartlink.smartsession"),
            PhiPage("smartlink:copay", "smartlink.smartsession"),
            PhiPage("smartlink:invoice", "smartlink.smartinvoice"),
            PhiPage("smartlink:not_billed"),
        )
        minutes = int(getattr(settings, "SMART_CHECK_MINUTES", 15))
        schedules.register(schedules.Recurring(
            "smart: re-check invoices not billed", "smartlink.tasks.check_open_invoices",
            minutes))
