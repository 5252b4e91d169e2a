"""Every marketplace row gets the marketplace's own id, `external_id`.

Added in three steps so that existing rows get distinct values: the column as nullable, then
`local-<pk>` for every existing row (the prefix the service uses for rows it made itself, so a
marketplace id never collides with one), then unique and required.
"""

from django.db import migrations, models

import app.marketplace.models

MODELS = ("cleanerprofile", "clientprofile", "property", "cleaningjob", "bid", "review")


def fill(apps, schema_editor) -> None:
    for name in MODELS:
        model = apps.get_model("marketplace", name)
        rows = list(model.objects.filter(external_id__isnull=True).only("pk"))
        for row in rows:
            row.external_id = f"local-{row.pk}"
        model.objects.bulk_update(rows, ["external_id"], batch_size=1000)


def final_field() -> models.CharField:
    return models.CharField(
        default=app.marketplace.models.external_id_new, help_text="The marketplace's own id of this row (unique per type).",
        max_length=64, unique=True, validators=[app.marketplace.models.external_id_validator],
    )


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0001_initial")]

    operations = [
        *[migrations.AddField(model_name=name, name="external_id", field=models.CharField(max_length=64, null=True))
          for name in MODELS],
        migrations.RunPython(fill, migrations.RunPython.noop),
        *[migrations.AlterField(model_name=name, name="external_id", field=final_field()) for name in MODELS],
    ]
