from django.db import models  # noqa: F401

from claims.payer_models import *  # noqa: F401,F403,E402
