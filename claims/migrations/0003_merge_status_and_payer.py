# Joins the claim-status and payer-claims branches' migrations (both start the app).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0001_claim_status"),
        ("claims", "0002_payer_claims"),
    ]
    operations = []
