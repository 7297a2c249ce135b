"""Defect 8: the audit log is append-only whatever the path, in the database itself on
PostgreSQL; deleting a person or an encounter keeps who and what its rows are about, and
is itself audited."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, models, transaction

from revcycle.audit import record_event
from revcycle.models import AuditEvent, Encounter

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql",
                                   reason="the trigger exists on PostgreSQL only")


@pytest.fixture
def event(maya, encounter) -> AuditEvent:
    return record_event(None, "view", encounter, user=maya, detail="original")


def _unchanged(event: AuditEvent) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT detail FROM revcycle_auditevent WHERE id = %s", [event.pk])
        row = cursor.fetchone()
    return row is not None and row[0] == "original"


def test_the_base_manager_cannot_update(event):
    with pytest.raises(PermissionError):
        AuditEvent._base_manager.filter(pk=event.pk).update(detail="changed")
    assert _unchanged(event)


def test_raw_delete_is_refused(event):
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk)._raw_delete(using="default")
    assert _unchanged(event)


def test_save_base_of_a_stored_event_is_refused(event):
    event.detail = "changed"
    with pytest.raises(PermissionError):
        event.save_base()
    assert _unchanged(event)


@on_postgresql
@pytest.mark.parametrize("attempt", [
    "plain_queryset_update", "plain_queryset_raw_delete", "model_save_base", "sql_update",
    "sql_delete",
])
def test_postgresql_refuses_every_change_that_gets_past_python(event, attempt):
    plain = models.QuerySet(model=AuditEvent).filter(pk=event.pk)
    actions = {
        "plain_queryset_update": lambda: plain.update(detail="changed"),
        "plain_queryset_raw_delete": lambda: plain._raw_delete(using="default"),
        # The internal update that Model.save_base issues, past AuditEvent's overrides.
        "model_save_base": lambda: plain._update(
            [(AuditEvent._meta.get_field("detail"), None, "changed")]),
        "sql_update": lambda: connection.cursor().execute(
            "UPDATE revcycle_auditevent SET detail = 'changed' WHERE id = %s", [event.pk]),
        "sql_delete": lambda: connection.cursor().execute(
            "DELETE FROM revcycle_auditevent WHERE id = %s", [event.pk]),
    }
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        actions[attempt]()
    assert _unchanged(event)


def test_deleting_a_user_keeps_their_name_and_id_on_their_rows_and_is_audited(event, maya,
                                                                               ada):
    maya_pk = maya.pk
    User.objects.filter(pk=maya_pk).delete()
    kept = AuditEvent.objects.get(pk=event.pk)
    assert (kept.user_id, kept.username) == (maya_pk, "maya")
    deletion = AuditEvent.objects.get(action="delete", object_type="auth.user")
    assert deletion.object_id == str(maya_pk)


def test_deleting_an_encounter_keeps_its_id_and_facility_on_its_rows(event, encounter):
    encounter_pk, facility_pk = encounter.pk, encounter.facility_id
    Encounter.objects.filter(pk=encounter_pk).delete()
    kept = AuditEvent.objects.get(pk=event.pk)
    assert (kept.encounter_id, kept.facility_id) == (encounter_pk, facility_pk)
    deletion = AuditEvent.objects.get(action="delete", object_type="revcycle.encounter")
    assert (deletion.object_id, deletion.facility_id) == (str(encounter_pk), facility_pk)


def test_a_deletion_in_the_admin_names_who_deleted(client_for, ada, encounter):
    from django.urls import reverse

    client_for(ada).post(reverse("admin:revcycle_encounter_delete", args=[encounter.pk]),
                         {"post": "yes"})
    assert not Encounter.objects.filter(pk=encounter.pk).exists()
    deletion = AuditEvent.objects.get(action="delete")
    assert deletion.username == "ada"


@on_postgresql
def test_postgresql_refuses_truncate_unless_the_session_allows_it(event):
    with pytest.raises(DatabaseError, match=r"append-only \(TRUNCATE refused\)"), \
            transaction.atomic(), connection.cursor() as cursor:
        # The test settings allow it on every connection (the flush between tests): undo
        # that for this transaction, as a production session is.
        cursor.execute("SET LOCAL revcycle.allow_audit_truncate = 'off'")
        cursor.execute("TRUNCATE revcycle_auditevent")
    assert _unchanged(event)
