"""Smart invoice tickets carry the invoice's total and date (issue 16: a cancelled invoice
showed a blank amount on the worklist)."""

from django.db import migrations


def fill(apps, schema_editor):
    SmartInvoice = apps.get_model("smartlink", "SmartInvoice")
    Ticket = apps.get_model("revcycle", "Ticket")
    invoices = SmartInvoice.objects.filter(ticket__isnull=False).values_list(
        "ticket_id", "total_amount", "invoice_date")
    for ticket_id, total, day in invoices.iterator(2000):
        Ticket.objects.filter(pk=ticket_id, amount__isnull=True).update(amount=total)
        Ticket.objects.filter(pk=ticket_id, service_date__isnull=True).update(service_date=day)


class Migration(migrations.Migration):

    dependencies = [
        ("smartlink", "0003_smart_answers_and_estimated_times"),
        ("revcycle", "0009_fill_ticket_summary"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
