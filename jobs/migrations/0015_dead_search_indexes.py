"""The search box's indexes again, over failed and cancelled jobs only (jobs.selectors.job_list): a
search within those statuses reads its few matches from them. Each condition's "IS NOT NULL" keeps
queries without a search off them (see jobs.models.Job.Meta). Built concurrently, PostgreSQL only."""

import django.contrib.postgres.indexes
import django.db.models.lookups
from django.db import migrations, models

import jobs.search
from jobs.migration_operations import AddPostgresIndexConcurrently

DEAD = ("status__in", ["failed", "cancelled"])


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY

    dependencies = [
        ("jobs", "0014_dead_letter_groups_index"),
    ]

    operations = [
        AddPostgresIndexConcurrently(
            model_name="job",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(jobs.search.SearchDocument(), name="gin_trgm_ops"),
                condition=models.Q(DEAD, django.db.models.lookups.IsNull(jobs.search.SearchDocument(), False)),
                name="job_dead_search_trgm_idx",
            ),
        ),
        AddPostgresIndexConcurrently(
            model_name="job",
            index=django.contrib.postgres.indexes.GinIndex(
                condition=models.Q(DEAD, ("kwargs__isnull", False)),
                fields=["kwargs"],
                name="job_dead_kwargs_path_idx",
                opclasses=["jsonb_path_ops"],
            ),
        ),
        AddPostgresIndexConcurrently(
            model_name="job",
            index=django.contrib.postgres.indexes.GinIndex(
                condition=models.Q(DEAD, ("result__isnull", False)),
                fields=["result"],
                name="job_dead_result_path_idx",
                opclasses=["jsonb_path_ops"],
            ),
        ),
    ]
