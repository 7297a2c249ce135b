# ConnectionMinute (request metrics) moves to the core, table and rows kept: the core's
# 0007 takes over the state of the table this app's 0001 created.

from django.db import migrations


def move_content_type(apps, schema_editor):
    """Permissions and admin history hang off the content type: carry it to the core."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="revcycle", model="connectionminute").delete()
    ContentType.objects.filter(app_label="followup", model="connectionminute").update(
        app_label="revcycle")


def restore_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="revcycle", model="connectionminute").update(
        app_label="followup")


class Migration(migrations.Migration):

    dependencies = [
        ('followup', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]
    run_before = [
        ('revcycle', '0007_connectionminute_from_followup'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.DeleteModel(name='ConnectionMinute'),
        ]),
        migrations.RunPython(move_content_type, restore_content_type),
    ]
