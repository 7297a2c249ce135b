from django.apps import AppConfig
from django.conf import settings


class SmartlinkConfig(AppConfig):
    name = "smartlink"
    verbose_name = "Smart (SmartLink) visits"

    def ready(self) -> None:
        from revcycle import schedules
        from smartlink import flow

        flow.register()
        minutes = int(getattr(settings, "SMART_CHECK_MINUTES", 15))
        schedules.add("smart: re-check invoices not billed", "smartlink.tasks.check_open_invoices",
                      minutes)
