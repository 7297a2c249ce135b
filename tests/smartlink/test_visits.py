"""Sessions as Smart may really send them: times under any name, expiry refused with any
of 400/404/409/410, and 409s explained from Smart's own lists."""

from datetime import UTC, datetime, timedelta

import pytest
import responses
from django.utils import timezone

from smartlink import client
from smartlink.models import SmartSession
from tests.smartlink.conftest import BASE, calls_to

MERGE = f"{BASE}/api/visit/62863/visit-number/V2"
VISITS = f"{BASE}/api/visit"


def spring(status, phrase, message):
    return {"timestamp": "2026-01-05T08:00:00.000+00:00", "status": status, "error": phrase,
            "message": message, "path": "/providerapi-dev/api/visit/62863/visit-number/V2"}


OPENED = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("key", ["sessionStartDate", "sessionDate", "startDate", "createdAt",
                                 "openedAt"])
@pytest.mark.parametrize("value", [int(OPENED.timestamp()), int(OPENED.timestamp() * 1000),
                                   str(int(OPENED.timestamp() * 1000)),
                                   "2026-01-05T08:00:00Z", "2026-01-05T08:00:00.000+0000"])
def test_the_opening_time_is_read_under_any_name_and_in_any_form(api, smart, key, value):
    api.add(responses.GET, VISITS, json=[{"id": 62863, "sessionStatus": "PENDING", key: value}])

    found = client.pending_sessions(smart, "23025764")[0]

    assert found.opened_at == OPENED
    assert found.expires_at == OPENED + timedelta(hours=24)
    assert not found.times_estimated


@pytest.mark.parametrize("key", ["sessionExpiryDate", "expiryDate", "expiresAt"])
def test_the_expiry_time_is_read_under_any_name(api, smart, key):
    api.add(responses.GET, VISITS, json=[{"sessionId": "62863", "status": "PENDING",
                                          key: "2026-01-06T08:00:00Z"}])

    found = client.pending_sessions(smart, "23025764")[0]

    assert found.expires_at == OPENED + timedelta(hours=24)
    assert found.opened_at == OPENED and not found.times_estimated


def test_a_session_without_times_counts_24_hours_from_first_sight_and_says_so(
        api, client_for, alice, smart):
    api.add(responses.GET, VISITS, json=[{"id": 62863, "sessionStatus": "PENDING",
                                          "patientNumber": "23025764", "extra": None}])
    before = timezone.now()

    response = client_for(alice).post("/smart/lookup/", {"patient_number": "23025764"},
                                      HTTP_HX_REQUEST="true")

    session = SmartSession.objects.get(session_id="62863")
    assert session.times_estimated
    assert before <= session.opened_at <= timezone.now()
    assert session.expires_at == session.opened_at + timedelta(hours=24)
    assert b"the 24 hours are counted from when revcycle first saw the session" in \
        response.content


@pytest.mark.parametrize("status", [400, 404, 409, 410])
def test_a_merge_refused_after_the_time_ran_out_is_an_expired_session(
        api, client_for, ada, session, status):
    SmartSession.objects.filter(pk=session.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1))
    api.add(responses.POST, MERGE, status=status,
            json=spring(status, "Bad Request", "Invalid session"))

    response = client_for(ada).post(f"/smart/sessions/{session.pk}/activate/",
                                      {"visit_number": "V2"}, HTTP_HX_REQUEST="true")

    assert b"has expired (Smart: Invalid session)" in response.content
    assert b"Ask Smart to open a new session for patient file 23025764" in response.content
    session.refresh_from_db()
    assert session.status == "EXPIRED" and session.expired_at is not None
    assert session.events.get(action="merge refused").raw["message"] == "Invalid session"
    desk = client_for(ada).get("/smart/").content.decode()
    listed = desk[desk.index("Sessions that expired"):]
    assert "62863" in listed and "ask Smart to open a new one" in listed
    assert len(calls_to(api, "api/visit/62863/visit-number/V2")) == 1


def test_a_merge_refused_with_400_while_time_is_left_shows_smarts_message(
        api, client_for, ada, session):
    api.add(responses.POST, MERGE, status=400,
            json=spring(400, "Bad Request", "Visit number V2 has a bad format"))

    response = client_for(ada).post(f"/smart/sessions/{session.pk}/activate/",
                                      {"visit_number": "V2"}, HTTP_HX_REQUEST="true")

    assert b"Visit number V2 has a bad format" in response.content
    assert b"Bad Request" not in response.content
    session.refresh_from_db()
    assert session.status == "PENDING"


def test_a_409_for_a_session_merged_to_another_visit_says_so_and_opens_it(
        api, client_for, ada, session):
    api.add(responses.POST, MERGE, status=409, json=spring(409, "Conflict", ""))
    api.add(responses.GET, VISITS, json=[{"id": 62863, "sessionStatus": "ACTIVE",
                                          "visitNumber": "V1"}])

    response = client_for(ada).post(f"/smart/sessions/{session.pk}/activate/",
                                      {"visit_number": "V2"}, HTTP_HX_REQUEST="true")

    assert b"already merged with visit number V1, not V2" in response.content
    assert f'href="/smart/sessions/{session.pk}/"'.encode() in response.content
    assert "sessionStatus=ACTIVE" in calls_to(api, "api/visit")[0].request.url
    session.refresh_from_db()
    assert (session.status, session.visit_number) == ("ACTIVE", "V1")


def test_a_409_for_a_session_merged_with_this_visit_at_another_desk_opens_the_visit(
        api, client_for, ada, session):
    api.add(responses.POST, MERGE, status=409, json=spring(409, "Conflict", "Conflict"))
    api.add(responses.GET, VISITS, json=[{"id": 62863, "sessionStatus": "ACTIVE",
                                          "visitNumber": "V2"}])
    api.add(responses.GET, f"{BASE}/api/member", json={"memberNumber": "M1", "benefits": []})

    response = client_for(ada).post(f"/smart/sessions/{session.pk}/activate/",
                                      {"visit_number": "V2"}, HTTP_HX_REQUEST="true")

    assert response.headers["HX-Redirect"] == f"/smart/sessions/{session.pk}/"
    session.refresh_from_db()
    assert (session.status, session.visit_number) == ("ACTIVE", "V2")
    assert session.events.filter(action="merged elsewhere").exists()


def test_a_409_because_the_visit_number_is_merged_to_another_session_names_it(
        api, client_for, ada, session):
    api.add(responses.POST, MERGE, status=409, json=spring(409, "Conflict", ""))
    api.add(responses.GET, VISITS, json=[{"id": 70001, "sessionStatus": "ACTIVE",
                                          "visitNumber": "V2", "patientNumber": "23025764"}])

    response = client_for(ada).post(f"/smart/sessions/{session.pk}/activate/",
                                      {"visit_number": "V2"}, HTTP_HX_REQUEST="true")

    other = SmartSession.objects.get(session_id="70001")
    assert b"Visit number V2 is already merged with another Smart session, 70001" in \
        response.content
    assert f'href="/smart/sessions/{other.pk}/"'.encode() in response.content
    assert (other.status, other.visit_number) == ("ACTIVE", "V2")
    session.refresh_from_db()
    assert session.status == "PENDING"


def test_the_lookup_lists_a_session_merged_at_another_desk_to_open(
        api, client_for, alice, smart):
    api.add(responses.GET, VISITS, json=[
        {"id": 62863, "sessionStatus": "PENDING", "patientNumber": "23025764"},
        {"id": 62864, "sessionStatus": "ACTIVE", "patientNumber": "23025764",
         "visitNumber": "OP-9"}])

    response = client_for(alice).post("/smart/lookup/", {"patient_number": "23025764"},
                                      HTTP_HX_REQUEST="true")

    merged = SmartSession.objects.get(session_id="62864")
    assert (merged.status, merged.visit_number) == ("ACTIVE", "OP-9")
    assert f'href="/smart/sessions/{merged.pk}/"'.encode() in response.content
    assert [c.request.url.split("sessionStatus=")[1] for c in calls_to(api, "api/visit")] == [
        "PENDING", "ACTIVE"]
