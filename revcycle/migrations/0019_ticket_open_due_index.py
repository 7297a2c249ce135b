# The claim's candidates in due order (revcycle.leasing.candidates; docs/performance.md).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('revcycle', '0018_ticket_busy_lease_index'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(condition=models.Q(('state__in', ['queued', 'submitted', 'processing'])), fields=['next_poll_at'], name='ticket_open_due'),
        ),
    ]
