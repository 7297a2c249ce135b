"""The visit desk's steps against Smart: find the PENDING sessions of a patient, merge one
with the hospital's visit number, and read the member and benefits (sections 2 and 3)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from revcycle import errors
from revcycle.models import Connection, Encounter, Facility
from revcycle.roles import has_perm
from smartlink import client
from smartlink.models import SmartBenefit, SmartMember, SmartSession

NEW_SESSION_STEP = ("Ask Smart to open a new session for patient file {patient}, then look "
                    "the patient up again.")


class SessionProblem(Exception):
    """Smart refused a session step; `message` says what happened and what to do next."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def find_sessions(connection: Connection, facility: Facility, patient_number: str,
                  user: Any = None) -> list[SmartSession]:
    """The patient's PENDING sessions as Smart lists them, saved locally."""
    remote = client.pending_sessions(connection, patient_number)
    found = []
    for r in remote:
        session, created = SmartSession.objects.get_or_create(
            connection=connection, session_id=r.session_id,
            defaults={"facility": facility, "patient_number": r.patient_number or patient_number,
                      "opened_at": r.opened_at, "expires_at": r.expires_at},
        )
        if created:
            session.log("found", f"Smart lists session {r.session_id} as PENDING.", user=user)
        if session.facility_id == facility.pk:
            found.append(session)
    return found


def _encounter_for(session: SmartSession, visit_number: str) -> Encounter | None:
    return Encounter.objects.filter(facility=session.facility, account_number=visit_number).first()


def activate(session: SmartSession, visit_number: str, user: Any = None) -> SmartSession:
    """Merge the session with the visit number (PENDING -> ACTIVE), or say why not.

    The one check of who may activate, for the desk and the admin alike: the README's
    roles give Smart session activation to admins (activate_smart_session)."""
    if not has_perm(user, "activate_smart_session"):
        raise PermissionDenied("Your role does not allow activating Smart sessions.")
    visit_number = visit_number.strip()
    if session.status == SmartSession.Status.ACTIVE:
        raise SessionProblem(
            f"Session {session.session_id} is already merged with visit number "
            f"{session.visit_number}. A session is merged once; for another visit, "
            + NEW_SESSION_STEP.format(patient=session.patient_number))
    if session.status == SmartSession.Status.EXPIRED or session.time_left.total_seconds() <= 0:
        session.mark_expired(user)
        raise SessionProblem(
            f"Session {session.session_id} has expired (24 hours after Smart opened it). "
            + NEW_SESSION_STEP.format(patient=session.patient_number))
    try:
        remote = client.merge_session(session.connection, session.session_id, visit_number)
    except errors.Conflict as exc:
        if exc.status == 410 or "expire" in exc.message.lower():
            session.mark_expired(user)
            raise SessionProblem(f"Smart says session {session.session_id} has expired. "
                                 + NEW_SESSION_STEP.format(patient=session.patient_number)) from exc
        session.log("merge refused", f"Smart: {exc.message}"[:500], user=user)
        raise SessionProblem(
            f"Smart says session {session.session_id} was merged already ({exc.message}). "
            "If that was this visit, open it below; otherwise "
            + NEW_SESSION_STEP.format(patient=session.patient_number)) from exc
    except errors.NotFound as exc:
        session.log("merge refused", "Smart does not know this session.", user=user)
        raise SessionProblem(f"Smart has no session {session.session_id} for this patient. "
                             + NEW_SESSION_STEP.format(patient=session.patient_number)) from exc
    session.status = SmartSession.Status.ACTIVE
    session.visit_number = remote.visit_number or visit_number
    session.activated_by = user if getattr(user, "is_authenticated", False) else None
    session.activated_at = timezone.now()
    session.encounter = session.encounter or _encounter_for(session, session.visit_number)
    session.save(update_fields=["status", "visit_number", "activated_by", "activated_at",
                                "encounter"])
    session.log("activated", f"Merged with visit number {session.visit_number}.", user=user)
    return session


def refresh_member(session: SmartSession, user: Any = None) -> SmartMember:
    """Read the member's biodata and benefits again; replaces the earlier snapshot."""
    # The call stays outside the transaction: no database lock is held across the network.
    remote = client.member(session.connection, session.patient_number, session.session_id)
    with transaction.atomic():
        return _store_member(session, remote, user)


def _store_member(session: SmartSession, remote: client.Member, user: Any) -> SmartMember:
    member, _ = SmartMember.objects.update_or_create(session=session, defaults={
        "member_number": remote.member_number, "first_name": remote.first_name,
        "last_name": remote.last_name, "date_of_birth": remote.date_of_birth,
        "gender": remote.gender, "scheme": remote.scheme, "insurer": remote.insurer,
        "raw": remote.raw, "fetched_at": timezone.now()})
    kept = []
    for b in remote.benefits:
        benefit, _ = SmartBenefit.objects.update_or_create(
            member=member, benefit_id=b.benefit_id,
            defaults={"name": b.name, "limit": b.limit, "balance": b.balance})
        kept.append(benefit.pk)
    member.benefits.exclude(pk__in=kept).filter(invoices__isnull=True).delete()
    session.log("benefits read", f"{len(remote.benefits)} benefit(s) from Smart.", user=user)
    return member
