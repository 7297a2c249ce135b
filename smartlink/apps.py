from django.apps import AppConfig
from django.conf import settings


class SmartlinkConfig(AppConfig):
    name = "smartlink"
    verbose_name = "Smart (SmartLink) visits"

    def ready(self) -> None:
        from followup import sources
        from revcycle import engine, schedules, services
        from smartlink import flow, worklist
        from smartlink.service import SERVICE

        services.register(SERVICE)
        services.register_ticket_kind(flow.TICKET_KIND)
        engine.register(flow.ENGINE_KIND)
        sources.register(worklist.DOMAIN)
        minutes = int(getattr(settings, "SMART_CHECK_MINUTES", 15))
        schedules.register(schedules.Recurring(
            "smart: re-check invoices not billed", "smartlink.tasks.check_open_invoices",
            minutes))
