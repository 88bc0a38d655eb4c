"""The search box's GIN indexes move off the job's row onto a table of their own (JobSearchEntry),
kept by triggers: a claim or a success no longer writes an entry into each of them (see the model).

On PostgreSQL, in this order: the table; the triggers (so that jobs written meanwhile get their
entries); the entries of the jobs already there; the indexes, built without blocking writes; the
old indexes on jobs_job dropped. On SQLite only the table is made (the search reads the jobs there).
"""

import django.contrib.postgres.indexes
import django.db.models.deletion
from django.db import migrations, models

from jobs.migration_operations import AddPostgresIndexConcurrently, RemovePostgresIndex

# jobs.search.SearchDocument, over a row variable (NEW, or a transition table's alias).
DOCUMENT = (
    "{r}.actor_name || ' ' || {r}.error_type || ' ' || {r}.error_message || ' ' || COALESCE({r}.idempotency_key, '')"
    " || ' ' || ({r}.args)::text || ' ' || ({r}.kwargs)::text || ' ' || COALESCE(({r}.result)::text, '')"
)
UPSERT = (
    "ON CONFLICT (job_id) DO UPDATE SET document = EXCLUDED.document, kwargs = EXCLUDED.kwargs, "
    "result = EXCLUDED.result"
)
SEARCHED_COLUMNS = ("actor_name", "error_type", "error_message", "idempotency_key", "args", "kwargs", "result")

FORWARDS = f"""
ALTER TABLE jobs_jobsearchentry ADD CONSTRAINT jobs_jobsearchentry_job_id_fk
    FOREIGN KEY (job_id) REFERENCES jobs_job (id) ON DELETE CASCADE;

CREATE FUNCTION jobs_search_entries_of_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO jobs_jobsearchentry (job_id, document, kwargs, result)
    SELECT n.id, {DOCUMENT.format(r="n")}, n.kwargs, n.result FROM inserted_jobs n
    {UPSERT};
    RETURN NULL;
END $$;

CREATE FUNCTION jobs_search_entry_of_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO jobs_jobsearchentry (job_id, document, kwargs, result)
    VALUES (NEW.id, {DOCUMENT.format(r="NEW")}, NEW.kwargs, NEW.result)
    {UPSERT};
    RETURN NULL;
END $$;

-- One statement per INSERT, however many jobs it writes (bulk submits, schedules' fires).
CREATE TRIGGER jobs_search_entries_on_insert AFTER INSERT ON jobs_job
    REFERENCING NEW TABLE AS inserted_jobs FOR EACH STATEMENT
    EXECUTE FUNCTION jobs_search_entries_of_inserted();

-- Only statements that set a searched column, and only rows where one changed: a claim sets
-- none, a success sets the result (unchanged when the job returned nothing).
CREATE TRIGGER jobs_search_entry_on_update AFTER UPDATE OF {", ".join(SEARCHED_COLUMNS)} ON jobs_job
    FOR EACH ROW WHEN ({" OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in SEARCHED_COLUMNS)})
    EXECUTE FUNCTION jobs_search_entry_of_updated();

INSERT INTO jobs_jobsearchentry (job_id, document, kwargs, result)
SELECT j.id, {DOCUMENT.format(r="j")}, j.kwargs, j.result FROM jobs_job j
ON CONFLICT (job_id) DO NOTHING;
"""

BACKWARDS = """
DROP TRIGGER IF EXISTS jobs_search_entry_on_update ON jobs_job;
DROP TRIGGER IF EXISTS jobs_search_entries_on_insert ON jobs_job;
DROP FUNCTION IF EXISTS jobs_search_entry_of_updated();
DROP FUNCTION IF EXISTS jobs_search_entries_of_inserted();
"""


def keep_entries(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARDS)


def stop_keeping_entries(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARDS)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY

    dependencies = [
        ("jobs", "0016_dead_actor_created_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="JobSearchEntry",
            fields=[
                (
                    "job",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="jobs.job",
                    ),
                ),
                ("document", models.TextField()),
                ("kwargs", models.JSONField(null=True)),
                ("result", models.JSONField(null=True)),
            ],
        ),
        migrations.RunPython(keep_entries, stop_keeping_entries, atomic=True),
        AddPostgresIndexConcurrently(
            model_name="jobsearchentry",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["document"], name="search_entry_trgm_idx", opclasses=["gin_trgm_ops"]
            ),
        ),
        AddPostgresIndexConcurrently(
            model_name="jobsearchentry",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["kwargs"], name="search_entry_kwargs_idx", opclasses=["jsonb_path_ops"]
            ),
        ),
        AddPostgresIndexConcurrently(
            model_name="jobsearchentry",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["result"], name="search_entry_result_idx", opclasses=["jsonb_path_ops"]
            ),
        ),
        RemovePostgresIndex(model_name="job", name="job_search_trgm_idx"),
        RemovePostgresIndex(model_name="job", name="job_kwargs_path_idx"),
        RemovePostgresIndex(model_name="job", name="job_result_path_idx"),
    ]
