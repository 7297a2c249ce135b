# The request metrics moved from the follow-up app to the core (revcycle/metrics.py writes
# them). The table keeps its name and its rows (Meta.db_table): only the state moves here.
# followup 0001 created the table and followup 0002 drops it from its own state first
# (its run_before).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('revcycle', '0006_smart_settings_leave_facility'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.CreateModel(
                name='ConnectionMinute',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('minute', models.DateTimeField()),
                    ('requests', models.PositiveIntegerField(default=0)),
                    ('errors', models.PositiveIntegerField(default=0)),
                    ('latency_buckets', models.JSONField(default=list)),
                    ('connection', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='minutes', to='revcycle.connection')),
                ],
                options={
                    'db_table': 'followup_connectionminute',
                    'constraints': [models.UniqueConstraint(fields=('connection', 'minute'), name='uniq_connection_minute')],
                },
            ),
        ]),
    ]
