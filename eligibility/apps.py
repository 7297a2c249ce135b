from django.apps import AppConfig


class EligibilityConfig(AppConfig):
    name = "eligibility"
    verbose_name = "Insurance discovery"

    def ready(self) -> None:
        from eligibility import batch, flow
        from revcycle import batches

        # Kind "discovery" on the shared engine; the spec asks for a 15 s poll interval.
        flow.register()
        batches.register(batch.SPEC)
