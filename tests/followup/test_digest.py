from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from followup import digest
from followup.models import DigestSent, FollowUp, NotificationPreference
from tests.followup.conftest import make_ticket

pytestmark = pytest.mark.django_db


def test_assignees_and_managers_get_one_digest_a_day(alice, maya, bob, integrex):
    ticket = make_ticket(integrex, account="ACC-77", patient="JANE DOE")
    FollowUp.for_ticket(ticket).assign(alice)
    assert digest.send_all() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.org", "maya@example.org"]
    body = mail.outbox[0].body
    assert "ACC-77" in body and "JANE" not in body and "DOE" not in body
    assert digest.send_all() == 0  # the same day again: nothing more
    assert len(mail.outbox) == 2
    assert DigestSent.objects.count() == 2


def test_a_person_who_turned_it_off_gets_nothing(client_for, alice, maya, integrex):
    FollowUp.for_ticket(make_ticket(integrex)).assign(alice)
    client_for(alice).post(reverse("followup:my_settings"), {})
    assert NotificationPreference.objects.get(user=alice).daily_digest is False
    digest.send_all()
    assert [m.to[0] for m in mail.outbox] == ["maya@example.org"]


def test_a_failed_send_is_tried_again_next_time(alice, integrex, monkeypatch):
    FollowUp.for_ticket(make_ticket(integrex)).assign(alice)

    def broken(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(digest, "send_mail", broken)
    with pytest.raises(ConnectionRefusedError):
        digest.send_all()
    assert not DigestSent.objects.exists()
    monkeypatch.undo()
    assert digest.send_all() == 1


def test_the_digest_is_scheduled_daily():
    from revcycle.schedules import SCHEDULES

    job = SCHEDULES["follow-up: daily digest"]
    assert (job.func, job.minutes) == ("followup.tasks.send_daily_digests", 1440)


def test_the_digest_says_money_at_risk_in_its_currency(maya, smart):
    make_ticket(smart, kind="smart_invoice_status", outcome="cancelled", amount="13000.00")
    digest.send_all()
    assert "Smart invoices not Billed: 1 (KES 13,000.00 at risk)" in mail.outbox[0].body
