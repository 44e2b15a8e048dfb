"""The knowledge base's Document and Chunk now belong to portal.knowledge.

State only: their tables and rows are kept (knowledge.0001 took them over).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("feishu", "0002_review_reminder"),
        ("knowledge", "0001_take_over_feishu_tables"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Chunk"),
                migrations.DeleteModel(name="Document"),
            ],
            database_operations=[],
        ),
    ]
