"""The schedule form of the admin and the dashboard: every check is the services' own."""

from django import forms

from jobs import registry
from jobs.errors import ApplicationError
from jobs.scheduling import services
from jobs.scheduling.models import Schedule

# Service field (API name in errors) → form field.
ERROR_FIELD_TO_FORM = {"actor": "actor_name", "queue": "queue_name"}


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = Schedule
        fields = list(services.EDITABLE_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "actor_name" in self.fields:
            self.fields["actor_name"].help_text = "Actors: " + ", ".join(registry.public_actor_names())

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        # Empty JSON and text boxes mean "none", as in the API.
        for field, empty in (("args", []), ("kwargs", {}), ("queue_name", ""), ("description", "")):
            if cleaned.get(field) in (None, ""):
                cleaned[field] = empty
        cleaned["cron"] = (cleaned.get("cron") or "").strip()
        values = {field: cleaned.get(field) for field in services.EDITABLE_FIELDS}
        check_actor = (
            self.instance.pk is None
            or "actor_name" in self.changed_data
            or (values["enabled"] and not self.instance.enabled)
        )
        try:
            if check_actor and "actor_name" in self.changed_data:
                services.check_public_actor(values["actor_name"])  # internal actors are the platform's
            if self.instance.pk is not None:
                services.check_internal_schedule_edit(self.instance, values)
            services.validate_fields(values, check_actor_name=check_actor)
        except ApplicationError as exc:
            field = (exc.details or {}).get("field")
            target = ERROR_FIELD_TO_FORM.get(field, field)
            self.add_error(target if target in self.fields else None, exc.message)
        return cleaned
