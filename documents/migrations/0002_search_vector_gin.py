"""A GIN index on the stored search vector, on PostgreSQL only (SQLite searches the text itself)."""

from django.db import migrations

CREATE = "CREATE INDEX IF NOT EXISTS document_search_vector_gin ON documents_document USING gin (search_vector)"
DROP = "DROP INDEX IF EXISTS document_search_vector_gin"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("documents", "0001_initial")]
    operations = [migrations.RunPython(create_index, drop_index)]
