"""Drop the observation table's own index on ``series_id``: the primary key (series_id, time)
serves every lookup by series. Only the index is dropped (on SQLite an AlterField would copy
the whole table)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("observations", "0004_observation_series_without_db_constraint"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="observation",
                    name="series",
                    field=models.ForeignKey(db_constraint=False, db_index=False,
                                            on_delete=django.db.models.deletion.PROTECT,
                                            related_name="observations", to="observations.series",
                                            verbose_name="序列"),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS observations_observation_series_id_57a4d77f",
                    reverse_sql="CREATE INDEX observations_observation_series_id_57a4d77f"
                                " ON observations_observation (series_id)",
                ),
            ],
        ),
    ]
