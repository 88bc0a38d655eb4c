"""Migration operations the jobs app needs beyond Django's own."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db.migrations import AddIndex, RemoveIndex


class PostgresOnly:
    """Mixed into an operation: it runs on PostgreSQL and is a no-op elsewhere (SQLite), where the
    model state still records it so that migrations stay in step."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class AddPostgresIndexConcurrently(PostgresOnly, AddIndexConcurrently):
    """A PostgreSQL-only index (GIN, trigram), built without blocking writes; a no-op elsewhere."""


class AddIndexConcurrentlyWherePossible(AddIndexConcurrently):
    """An index built without blocking writes on PostgreSQL, and plainly elsewhere (SQLite)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class RemovePostgresIndex(PostgresOnly, RemoveIndex):
    """Drops an index that only PostgreSQL has (AddPostgresIndexConcurrently); a no-op elsewhere."""
