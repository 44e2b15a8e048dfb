"""The events table becomes the relay's outbox (portal.feishu.relay): a `queued_at` column,
an index of the events still to queue, and a trigger that notifies the relay of each new
event when its insert commits."""

from django.db import migrations, models

NOTIFY = """
CREATE FUNCTION feishu_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('feishu_events', NEW.id::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER feishu_event_notify AFTER INSERT ON feishu_feishuevent
    FOR EACH ROW EXECUTE FUNCTION feishu_event_notify();
"""
DROP_NOTIFY = """
DROP TRIGGER IF EXISTS feishu_event_notify ON feishu_feishuevent;
DROP FUNCTION IF EXISTS feishu_event_notify();
"""


def mark_existing_queued(apps, schema_editor):  # noqa: ANN001
    """Events stored before the relay were queued by their delivery; the relay must not
    answer them again, however old."""
    event = apps.get_model("feishu", "FeishuEvent")
    event.objects.filter(queued_at__isnull=True).update(queued_at=models.F("received_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("feishu", "0003_knowledge_moved_out"),
    ]

    operations = [
        migrations.AddField(
            model_name="feishuevent",
            name="queued_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(mark_existing_queued, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="feishuevent",
            index=models.Index(
                condition=models.Q(("queued_at__isnull", True), ("status", "received")),
                fields=["id"],
                name="feishu_event_to_queue",
            ),
        ),
        migrations.RunSQL(NOTIFY, DROP_NOTIFY),
    ]
