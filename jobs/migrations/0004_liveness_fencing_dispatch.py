
import django.db.models.deletion
import django.db.models.functions.datetime
from django.db import migrations, models
from django.db.models.functions import Coalesce


def fill_available_at(apps, schema_editor):
    """A waiting job becomes available when its retry backoff ends, at its ETA, or at its creation."""
    Job = apps.get_model("jobs", "Job")
    Job.objects.update(available_at=Coalesce("next_retry_at", "eta", "created_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0003_builtin_schedules'),
    ]

    operations = [
        migrations.CreateModel(
            name='WorkerHost',
            fields=[
                ('id', models.CharField(help_text='hostname:pid:random, unique across hosts', max_length=200, primary_key=True, serialize=False)),
                ('hostname', models.CharField(max_length=200)),
                ('pid', models.PositiveIntegerField()),
                ('started_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                ('heartbeat_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                ('beating_since', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                ('stopped_at', models.DateTimeField(blank=True, null=True)),
                ('processes', models.PositiveIntegerField(default=0)),
                ('threads', models.PositiveIntegerField(default=0)),
                ('queues', models.JSONField(default=list)),
            ],
            options={
                'ordering': ['-heartbeat_at'],
            },
        ),
        migrations.RemoveField(
            model_name='job',
            name='heartbeat_at',
        ),
        migrations.RemoveField(
            model_name='job',
            name='message_id',
        ),
        migrations.AddField(
            model_name='job',
            name='available_at',
            field=models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
        ),
        migrations.RunPython(fill_available_at, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='job',
            name='next_retry_at',
        ),
        migrations.AddField(
            model_name='job',
            name='crash_suspect',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='job',
            name='uncharged_attempts',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='jobattempt',
            name='charged',
            field=models.BooleanField(default=True, help_text="Counted against the job's max attempts."),
        ),
        migrations.AddField(
            model_name='jobattempt',
            name='late_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='jobattempt',
            name='late_outcome',
            field=models.CharField(blank=True, default='', max_length=16),
        ),
        migrations.AddField(
            model_name='worker',
            name='ready_at',
            field=models.DateTimeField(blank=True, help_text='When it began to consume messages.', null=True),
        ),
        migrations.AddField(
            model_name='worker',
            name='exit_code',
            field=models.IntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='worker',
            name='stop_reason',
            field=models.CharField(blank=True, default='', max_length=200),
        ),
        migrations.AlterField(
            model_name='job',
            name='attempts',
            field=models.PositiveIntegerField(default=0, help_text='Attempts started.'),
        ),
        migrations.AlterField(
            model_name='job',
            name='created_at',
            field=models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
        ),
        migrations.AlterField(
            model_name='job',
            name='enqueued_at',
            field=models.DateTimeField(blank=True, help_text='When the current message was published.', null=True),
        ),
        migrations.AlterField(
            model_name='job',
            name='eta',
            field=models.DateTimeField(blank=True, help_text='The time the submitter asked for.', null=True),
        ),
        migrations.AlterField(
            model_name='job',
            name='status_changed_at',
            field=models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
        ),
        migrations.AlterField(
            model_name='jobattempt',
            name='finished_at',
            field=models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
        ),
        migrations.AlterField(
            model_name='jobattempt',
            name='outcome',
            field=models.CharField(choices=[('failed', 'Failed'), ('lost', 'Lost (worker died or stopped)'), ('timeout', 'Timed out (hard limit)'), ('cancelled', 'Cancelled')], max_length=16),
        ),
        migrations.AlterField(
            model_name='worker',
            name='heartbeat_at',
            field=models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
        ),
        migrations.AlterField(
            model_name='worker',
            name='id',
            field=models.CharField(help_text='host id/pid', max_length=200, primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name='worker',
            name='started_at',
            field=models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(condition=models.Q(('enqueued_at__isnull', True), ('status__in', ('pending', 'scheduled', 'retrying'))), fields=['available_at'], name='job_unpublished_idx'),
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(condition=models.Q(('status', 'running')), fields=['worker_id'], name='job_running_worker_idx'),
        ),
        migrations.AddField(
            model_name='worker',
            name='host',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='workers', to='jobs.workerhost'),
        ),
    ]
