from django.db import migrations

# 0008's row trigger refuses UPDATE and DELETE; TRUNCATE fires no row trigger. This
# statement trigger refuses it too, unless the session says otherwise: the test settings
# set revcycle.allow_audit_truncate=on on their connections, because Django empties the
# tables between transactional tests with one TRUNCATE of every table. Nothing else sets
# it; keep revoking TRUNCATE from the application's role as well (README, "Audit log").
CREATE_TRIGGER = """
CREATE OR REPLACE FUNCTION revcycle_auditevent_no_truncate() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('revcycle.allow_audit_truncate', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit events are append-only (TRUNCATE refused)'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS revcycle_auditevent_no_truncate ON revcycle_auditevent;
CREATE TRIGGER revcycle_auditevent_no_truncate
    BEFORE TRUNCATE ON revcycle_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION revcycle_auditevent_no_truncate();
"""
DROP_TRIGGER = """
DROP TRIGGER IF EXISTS revcycle_auditevent_no_truncate ON revcycle_auditevent;
DROP FUNCTION IF EXISTS revcycle_auditevent_no_truncate();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("revcycle", "0012_batch_read_by_a_worker"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE_TRIGGER), _on_postgresql(DROP_TRIGGER)),
    ]
