from django.apps import AppConfig


class SmartlinkConfig(AppConfig):
    name = "smartlink"
