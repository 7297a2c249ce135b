"""WSGI entry point of a sandbox-only process (`gunicorn sandbox.wsgi`, as the bench
serves it): sandbox.server_settings, whatever DJANGO_SETTINGS_MODULE the environment
carries (a child of manage.py inherits revcycle.settings)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "sandbox.server_settings"
application = get_wsgi_application()
