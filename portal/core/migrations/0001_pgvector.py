from django.db import migrations
from pgvector.django import VectorExtension


class Migration(migrations.Migration):
    """The `vector` extension every app with embeddings relies on."""

    initial = True
    dependencies: list = []
    operations = [VectorExtension()]
