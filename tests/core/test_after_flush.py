from django.contrib.auth.models import Group
from django.core.management import call_command

from revcycle.models import CodeDescription


def test_a_flush_restores_roles_and_shipped_code_descriptions(transactional_db):
    call_command("flush", interactive=False, verbosity=0)
    assert set(Group.objects.values_list("name", flat=True)) >= {"biller", "manager", "admin"}
    assert Group.objects.get(name="biller").permissions.filter(codename="run_lookups").exists()
    assert CodeDescription.objects.filter(code_set="carc", code="50").exists()
