"""Fill amount and date of service on tickets created by a batch upload before
TicketQuerySet.bulk_create derived them (issue 16): the same reading as Ticket.fill_summary."""

from django.db import migrations

from revcycle import parse


def _get(data, *names):
    index = {"".join(ch for ch in str(k).lower() if ch.isalnum()): v for k, v in data.items()}
    for name in names:
        value = index.get(name.lower())
        if value is not None:
            return value
    return None


def fill(apps, schema_editor):
    Ticket = apps.get_model("revcycle", "Ticket")
    missing = Ticket.objects.filter(amount__isnull=True) | Ticket.objects.filter(
        service_date__isnull=True)
    for ticket in missing.only("id", "request", "amount", "service_date").iterator(2000):
        request = ticket.request if isinstance(ticket.request, dict) else {}
        amount = ticket.amount if ticket.amount is not None else parse.amount(
            _get(request, "totalcharges", "amount", "totalamount"))
        day = ticket.service_date or parse.day(
            _get(request, "admitdate", "begindos", "dateofservice", "invoicedate"))
        if (amount, day) != (ticket.amount, ticket.service_date):
            Ticket.objects.filter(pk=ticket.pk).update(amount=amount, service_date=day)


class Migration(migrations.Migration):

    dependencies = [
        ("revcycle", "0008_audit_append_only_in_db"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
