"""Every polling element follows revcycle/polling.py: drawn by `poll_attrs` (so it carries
the poll marker), inside a live region, and no fragment that swaps itself in has a load
trigger."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from revcycle.polling import FAST, SLOW, poll_interval

TEMPLATES = sorted(Path(settings.BASE_DIR, "templates").rglob("*.html"))
ELEMENT = re.compile(r"<[a-z]+\b[^>]*>", re.S)


def _elements(text: str, needle: str) -> list[str]:
    return [e for e in ELEMENT.findall(text) if needle in e]


def test_no_template_polls_by_hand() -> None:
    by_hand = [t.name for t in TEMPLATES if 'hx-trigger="every' in t.read_text()]
    assert by_hand == []


def test_every_polling_element_is_a_polite_live_region() -> None:
    polling = [e for t in TEMPLATES for e in _elements(t.read_text(), "poll_attrs")]
    assert len(polling) >= 8  # claims x2, discovery x2, batches, payer, Smart invoice, timeline
    assert all('aria-live="polite"' in e for e in polling), polling


def test_no_swapped_in_element_carries_a_load_trigger() -> None:
    loaded = [e for t in TEMPLATES for e in _elements(t.read_text(), "hx-trigger=\"load")]
    # A load trigger is only safe on an element that swaps its content, not itself.
    assert all('hx-swap="outerHTML"' not in e for e in loaded), loaded


def test_the_interval_follows_the_engine_between_fast_and_slow() -> None:
    now = timezone.now()
    assert poll_interval(now + timedelta(seconds=15)) == 16
    assert poll_interval(now - timedelta(seconds=5)) == FAST
    assert poll_interval(now + timedelta(hours=1)) == SLOW
    assert poll_interval(None) == FAST
    assert poll_interval(now + timedelta(seconds=15), now + timedelta(seconds=4)) == 5
    assert poll_interval(now, slow=True) == SLOW
