"""Writing many rows at once without the ORM's work per object: the demo's national data and the national
recompute of the health statuses. Binary COPY on PostgreSQL (psycopg adapts each value), executemany in
batches elsewhere."""

import json
from itertools import islice

from django.db import connection

WRITE_BATCH = 5000


def insert_rows(model, names, rows, ready=()):
    """Insert `rows` (tuples of Python values in the order of the field `names`) without the ORM's
    per-object work: COPY on PostgreSQL, executemany in batches elsewhere. Values of the fields in
    `ready` are already adapted (see adapter). Returns the count."""
    fields = [model._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    table, columns = quote(model._meta.db_table), ", ".join(quote(f.column) for f in fields)
    postgres = connection.vendor == "postgresql"
    adapters = [(i, adapter(f)) for i, f in enumerate(fields) if f.name not in ready]
    adapters = [(i, adapt) for i, adapt in adapters if adapt is not None]
    count = 0
    with connection.cursor() as cursor:
        if postgres:
            # Binary COPY (types given, so that psycopg dumps in C): about three times faster than text.
            cursor.execute(
                "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0", [table]
            )
            types = dict(cursor.fetchall())
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types([types[f.column] for f in fields])
                for row in rows:
                    if adapters:
                        row = list(row)
                        for i, adapt in adapters:
                            if row[i] is not None:
                                row[i] = adapt(row[i])
                    copy.write_row(row)
                    count += 1
            return count
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
        rows = iter(rows)
        while batch := list(islice(rows, WRITE_BATCH)):
            if adapters:
                for index, row in enumerate(batch):
                    row = list(row)
                    for i, adapt in adapters:
                        if row[i] is not None:
                            row[i] = adapt(row[i])
                    batch[index] = row
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def adapter(model_field):
    """What makes a Python value of `model_field` fit for insert_rows (None: nothing to do)."""
    postgres = connection.vendor == "postgresql"
    internal = model_field.get_internal_type()
    if internal == "JSONField":
        if postgres:
            from psycopg.types.json import Jsonb

            return Jsonb
        return json.dumps
    if postgres:
        return None
    if internal == "UUIDField":
        return lambda value: value.hex
    if internal == "DateTimeField":
        adapted = {}  # answers of a section share their moment: convert it once

        def adapt(value):
            text = adapted.get(value)
            if text is None:
                text = adapted[value] = connection.ops.adapt_datetimefield_value(value)
            return text

        return adapt
    if internal == "BooleanField":
        return int
    return None
