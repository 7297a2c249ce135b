"""Payer claims' tickets named the connection ("HCMS payer sandbox") in the Payer column;
the payer is HCMS."""

from django.db import migrations


def name_the_payer(apps, schema_editor):
    Ticket = apps.get_model("revcycle", "Ticket")
    Ticket.objects.filter(kind="payer_claim").update(payer="HCMS")


class Migration(migrations.Migration):
    dependencies = [
        ("payer", "0002_webhook_content_payments_conflicts"),
        ("revcycle", "0011_facility_time_zone"),
    ]

    operations = [migrations.RunPython(name_the_payer, migrations.RunPython.noop)]
