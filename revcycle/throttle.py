"""A connection's rate limit, shared by every worker through the database.

Fixed windows of one second (or 1/rate seconds for slow limits): each request takes a
slot with a conditional UPDATE, which the database serialises, so no two processes can
both take the last slot."""

from __future__ import annotations

import math
import random
import time
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from revcycle.models import RateWindow


def window_shape(rate: float) -> tuple[float, int]:
    """(window length in seconds, requests allowed in it)."""
    if rate >= 1:
        return 1.0, max(1, math.floor(rate))
    return 1.0 / rate, 1


def acquire(connection: Any, *, sleep: Any = time.sleep, clock: Any = time.time) -> None:
    rate = float(connection.rate_limit_per_second or 0)
    if rate <= 0:
        return
    length, capacity = window_shape(rate)
    while True:
        now = clock()
        window = int(now // length)
        taken = RateWindow.objects.filter(
            connection_id=connection.pk, second=window, count__lt=capacity
        ).update(count=F("count") + 1)
        if taken:
            return
        if not RateWindow.objects.filter(connection_id=connection.pk, second=window).exists():
            try:
                with transaction.atomic():
                    RateWindow.objects.create(connection_id=connection.pk, second=window, count=1)
                RateWindow.objects.filter(connection_id=connection.pk,
                                          second__lt=window - 60).delete()
                return
            except IntegrityError:
                continue  # another worker opened this window first: try its slots
        sleep(max(0.0, (window + 1) * length - now) + random.uniform(0, 0.02))
