from django.apps import AppConfig


class IntegrexConfig(AppConfig):
    """Integrex as a service, shared by claim status and insurance discovery: neither
    domain owns it, so neither depends on the other to have its connections work."""

    name = "integrex"
    verbose_name = "Integrex Health"

    def ready(self) -> None:
        from integrex.service import SERVICE
        from revcycle import services

        services.register(SERVICE)
