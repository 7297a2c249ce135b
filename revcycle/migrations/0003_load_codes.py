"""Load the shipped code descriptions (revcycle/data/codes/*.csv)."""

from django.db import migrations


def load_codes(apps, schema_editor):
    # Only the CSV reader and the upsert are shared; the model is the historical one.
    from revcycle.codes import read_shipped, upsert

    upsert(apps.get_model("revcycle", "CodeDescription"), read_shipped())


class Migration(migrations.Migration):
    dependencies = [("revcycle", "0002_roles")]
    operations = [migrations.RunPython(load_codes, migrations.RunPython.noop)]
