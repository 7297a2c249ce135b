from datetime import timedelta

from django.utils import timezone

from revcycle.models import EnginePump, Ticket


def _waiting_ticket(integrex, st_marys):
    return Ticket.objects.create(kind="claim_status", facility=st_marys, connection=integrex,
                                 request={"trackingId1": "A1"},
                                 next_poll_at=timezone.now() - timedelta(minutes=2))


def test_staff_are_told_when_lookups_wait_and_no_worker_runs(client_for, alice, integrex, st_marys):
    _waiting_ticket(integrex, st_marys)
    response = client_for(alice).get("/")
    assert b"background worker has not been seen" in response.content


def test_no_warning_while_a_pump_is_alive(client_for, alice, integrex, st_marys):
    _waiting_ticket(integrex, st_marys)
    EnginePump.objects.create(slot=0, owner="x", heartbeat_at=timezone.now())
    response = client_for(alice).get("/")
    assert b"background worker has not been seen" not in response.content
