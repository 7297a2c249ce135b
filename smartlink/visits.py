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
    """Smart refused a session step; `message` says what happened and what to do next,
    and `open_session` is a session the desk can open instead (merged elsewhere)."""

    def __init__(self, message: str, open_session: SmartSession | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.open_session = open_session


class AlreadyMerged(SessionProblem):
    """Smart had merged the session with this very visit already (another desk, or a
    double click): the visit is ready to use."""


def _saved(connection: Connection, facility: Facility, r: client.RemoteSession,
           patient_number: str, user: Any) -> SmartSession:
    session, created = SmartSession.objects.get_or_create(
        connection=connection, session_id=r.session_id,
        defaults={"facility": facility, "patient_number": r.patient_number or patient_number,
                  "opened_at": r.opened_at, "expires_at": r.expires_at,
                  "times_estimated": r.times_estimated})
    if created:
        how = (" It gives no opening time: its 24 hours are counted from now."
               if r.times_estimated else "")
        session.log("found", f"Smart lists session {r.session_id} as {r.status}.{how}",
                    user=user)
    return session


def find_sessions(connection: Connection, facility: Facility, patient_number: str,
                  user: Any = None) -> list[SmartSession]:
    """The patient's PENDING sessions as Smart lists them, saved locally. Sessions Smart
    lists as ACTIVE (merged at another desk) are recorded too, so the desk can open them."""
    found = []
    for r in client.pending_sessions(connection, patient_number):
        session = _saved(connection, facility, r, patient_number, user)
        if session.facility_id == facility.pk:
            found.append(session)
    try:
        active = client.sessions(connection, patient_number, "ACTIVE")
    except errors.ApiError:
        active = []  # the PENDING list is what the desk needs; this is a courtesy
    for r in active:
        session = _saved(connection, facility, r, patient_number, user)
        if session.facility_id == facility.pk and r.visit_number:
            _merged_elsewhere(session, r.visit_number, user)
    return found


def _merged_elsewhere(session: SmartSession, visit_number: str, user: Any) -> None:
    """Record what Smart says: the session is ACTIVE with this visit number."""
    if session.status == SmartSession.Status.ACTIVE and session.visit_number == visit_number:
        return
    session.status = SmartSession.Status.ACTIVE
    session.visit_number = visit_number
    session.encounter = session.encounter or _encounter_for(session, visit_number)
    session.save(update_fields=["status", "visit_number", "encounter"])
    session.log("merged elsewhere", f"Smart lists it as ACTIVE with visit number "
                f"{visit_number} (merged at another desk).", user=user)


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
    # A session whose time ran out by our clock is still offered to Smart, whose clock
    # decides; its refusal then reads as expired (_merge_refused).
    if session.status == SmartSession.Status.EXPIRED:
        raise SessionProblem(
            f"Session {session.session_id} has expired (24 hours after Smart opened it). "
            + NEW_SESSION_STEP.format(patient=session.patient_number))
    try:
        remote = client.merge_session(session.connection, session.session_id, visit_number)
    except (errors.Conflict, errors.BadRequest, errors.NotFound) as exc:
        _merge_refused(session, visit_number, exc, user)
    session.status = SmartSession.Status.ACTIVE
    session.visit_number = remote.visit_number or visit_number
    session.activated_by = user if getattr(user, "is_authenticated", False) else None
    session.activated_at = timezone.now()
    session.encounter = session.encounter or _encounter_for(session, session.visit_number)
    session.save(update_fields=["status", "visit_number", "activated_by", "activated_at",
                                "encounter"])
    session.log("activated", f"Merged with visit number {session.visit_number}.", user=user)
    return session


def _merge_refused(session: SmartSession, visit_number: str, exc: errors.ApiError,
                   user: Any) -> None:
    """Always raises. Smart answers an expired session with 400, 404, 409 or 410 (the
    document says only that it expires): once its 24 hours are over, any of them means
    expired. A 409 otherwise is read from Smart's own lists, not from its wording."""
    session.log("merge refused", f"Smart answered HTTP {exc.status}: {exc.message}",
                user=user, raw=exc.body)
    step = NEW_SESSION_STEP.format(patient=session.patient_number)
    if exc.status == 410 or session.time_ran_out or "expire" in exc.message.lower():
        session.mark_expired(user)
        raise SessionProblem(f"Session {session.session_id} has expired (Smart: "
                             f"{exc.message}). " + step) from exc
    if isinstance(exc, errors.Conflict):
        _explain_conflict(session, visit_number, exc, user)
    if isinstance(exc, errors.NotFound):
        raise SessionProblem(f"Smart has no session {session.session_id} for this patient "
                             f"({exc.message}). " + step) from exc
    raise SessionProblem(f"Smart did not activate session {session.session_id}: "
                         f"{exc.message}") from exc


def _explain_conflict(session: SmartSession, visit_number: str, exc: errors.ApiError,
                      user: Any) -> None:
    """A 409 means merged already, or this visit number merged with another session: ask
    Smart for the patient's ACTIVE sessions and say which."""
    try:
        active = client.sessions(session.connection, session.patient_number, "ACTIVE")
    except errors.ApiError:
        active = []
    mine = next((r for r in active if r.session_id == session.session_id), None)
    if mine is not None and mine.visit_number in ("", visit_number):
        _merged_elsewhere(session, visit_number, user)
        raise AlreadyMerged(f"Session {session.session_id} was already merged with visit "
                            f"{visit_number} at Smart (at another desk, or by an earlier "
                            "click). It is ready to use.", open_session=session) from exc
    if mine is not None:
        _merged_elsewhere(session, mine.visit_number, user)
        raise SessionProblem(
            f"Session {session.session_id} is already merged with visit number "
            f"{mine.visit_number}, not {visit_number}. Open visit {mine.visit_number} from the "
            "desk; for this visit, " + NEW_SESSION_STEP.format(
                patient=session.patient_number).lower(), open_session=session) from exc
    other = next((r for r in active if r.visit_number == visit_number), None)
    if other is not None:
        found = _saved(session.connection, session.facility, other, session.patient_number,
                       user)
        if found.facility_id == session.facility_id:
            _merged_elsewhere(found, visit_number, user)
        raise SessionProblem(
            f"Visit number {visit_number} is already merged with another Smart session, "
            f"{other.session_id}. Use that session for this visit.",
            open_session=found if found.facility_id == session.facility_id else None) from exc
    raise SessionProblem(
        f"Smart refused to merge session {session.session_id} ({exc.message}) and lists no "
        f"active session for it or for visit {visit_number}. "
        + NEW_SESSION_STEP.format(patient=session.patient_number)) from exc


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
