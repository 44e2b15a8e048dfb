"""The knowledge base moves out of the Feishu app: its models now live here.

State only: the tables `feishu_document` and `feishu_chunk` (created by
feishu.0001) and every row in them stay exactly as they are; Django's idea of
which app owns them changes. feishu.0003 removes them from the Feishu app's state
in the same step, and 0002 here renames the tables.
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.deletion
import django.utils.timezone
import pgvector.django.indexes
import pgvector.django.vector
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("core", "0001_pgvector"),
        ("feishu", "0002_review_reminder"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    state_operations = [
        migrations.CreateModel(
            name="Document",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("source", models.CharField(choices=[("curriculum", "Curriculum"), ("paper", "Paper"), ("lab_report", "Lab report"), ("upload", "Upload")], max_length=20, verbose_name="source")),
                ("source_key", models.CharField(max_length=200)),
                ("title", models.CharField(max_length=300, verbose_name="title")),
                ("url", models.CharField(blank=True, max_length=500, verbose_name="link")),
                ("content", models.TextField()),
                ("content_hash", models.CharField(max_length=64)),
                ("embedded_hash", models.CharField(blank=True, max_length=64)),
                ("status", models.CharField(choices=[("pending", "Pending"), ("embedding", "Embedding"), ("ready", "Ready"), ("failed", "Failed")], default="pending", max_length=12, verbose_name="status")),
                ("progress", models.FloatField(default=0.0)),
                ("error", models.TextField(blank=True)),
                ("chunk_count", models.PositiveIntegerField(default=0)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("owner", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="kb_documents", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "ordering": ["source", "title", "id"],
                "db_table": "feishu_document",
                "indexes": [models.Index(fields=["source", "-updated_at"], name="feishu_doc_source_idx")],
                "constraints": [models.UniqueConstraint(fields=("owner", "source", "source_key"), name="feishu_doc_owner_source_key_uniq", nulls_distinct=False)],
            },
        ),
        migrations.CreateModel(
            name="Chunk",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("ordinal", models.PositiveIntegerField()),
                ("section", models.CharField(blank=True, max_length=300)),
                ("text", models.TextField()),
                ("text_hash", models.CharField(max_length=64)),
                ("search_text", models.TextField()),
                ("search_vector", models.GeneratedField(db_persist=True, expression=django.contrib.postgres.search.SearchVector("search_text", config="simple"), output_field=django.contrib.postgres.search.SearchVectorField())),
                ("embedding", pgvector.django.vector.VectorField(dimensions=384)),
                ("document", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="chunks", to="knowledge.document")),
            ],
            options={
                "ordering": ["document_id", "ordinal"],
                "db_table": "feishu_chunk",
                "indexes": [
                    pgvector.django.indexes.HnswIndex(ef_construction=64, fields=["embedding"], m=16, name="feishu_chunk_embedding_hnsw", opclasses=["vector_cosine_ops"]),
                    django.contrib.postgres.indexes.GinIndex(fields=["search_vector"], name="feishu_chunk_search_gin"),
                ],
                "constraints": [models.UniqueConstraint(fields=("document", "ordinal"), name="feishu_chunk_doc_ordinal_uniq")],
            },
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations, database_operations=[]),
    ]
