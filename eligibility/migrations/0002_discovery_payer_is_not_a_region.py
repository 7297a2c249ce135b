"""A discovery's Payer column held the search region ("CA") until coverage was found; a
region is not a payer, so lookups that found none show no payer."""

from django.db import migrations


def blank_the_regions(apps, schema_editor):
    Ticket = apps.get_model("revcycle", "Ticket")
    Coverage = apps.get_model("eligibility", "Coverage")
    found = Coverage.objects.values("ticket_id")
    Ticket.objects.filter(kind="discovery").exclude(pk__in=found).update(payer="")


class Migration(migrations.Migration):
    dependencies = [
        ("eligibility", "0001_coverage"),
        ("revcycle", "0011_facility_time_zone"),
    ]

    operations = [migrations.RunPython(blank_the_regions, migrations.RunPython.noop)]
