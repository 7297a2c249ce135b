from django.contrib.auth.models import Group
from django.core.management import call_command

from revcycle.models import CodeDescription


def test_a_flush_restores_roles_and_shipped_code_descriptions(transactional_db):
    call_command("flush", interactive=False, verbosity=0)
    assert set(Group.objects.values_list("name", flat=True)) >= {"biller", "manager", "admin"}
    assert Group.objects.get(name="biller").permissions.filter(codename="run_lookups").exists()
    assert CodeDescription.objects.filter(code_set="carc", code="50").exists()


def test_a_flush_sets_roles_and_jobs_up_once_not_once_per_app(transactional_db):
    from unittest import mock

    from revcycle import schedules

    with mock.patch.object(schedules, "install", wraps=schedules.install) as install:
        call_command("flush", interactive=False, verbosity=0)
    assert install.call_count == 1
    # Once, when every app's permissions exist: the admin role holds payer's as well as
    # follow-up's (the last app's).
    admin = Group.objects.get(name="admin").permissions
    assert admin.filter(content_type__app_label="followup").exists()
    assert admin.filter(content_type__app_label="payer").exists()
