"""The database as seed_demo leaves it, taken once per test process and written back for each later user.

seed_demo goes through the real actions (validation, history, payments…) and takes 5–10 s; some twenty
modules and every browser test need it. Its rows are taken with the database's own means (binary COPY on
PostgreSQL, plain rows on SQLite, both lossless) and written back in well under a second.
"""

from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction


def _tables():
    return sorted(connection.introspection.django_table_names(only_existing=True, include_views=False))


def _counts(tables):
    quote = connection.ops.quote_name
    sql = " UNION ALL ".join(f"SELECT {i}, COUNT(*) FROM {quote(table)}" for i, table in enumerate(tables))
    with connection.cursor() as cursor:
        cursor.execute(sql)
        counts = dict(cursor.fetchall())
    return [counts[i] for i in range(len(tables))]


def _read(table):
    quote = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {quote} TO STDOUT (FORMAT BINARY)") as copy:
                return b"".join(bytes(block) for block in copy)
        cursor.execute(f"SELECT * FROM {quote}")
        return cursor.fetchall()


def _write(table, data):
    quote = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {quote}")
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {quote} FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(data)
        elif data:
            cursor.executemany(f"INSERT INTO {quote} VALUES ({', '.join(['%s'] * len(data[0]))})", data)


def _reset_sequences(tables):
    if connection.vendor != "postgresql":
        return  # SQLite's AUTOINCREMENT follows the largest id inserted by itself
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, pg_get_serial_sequence(quote_ident(table_name), 'id') FROM information_schema.columns"
            " WHERE column_name = 'id' AND table_schema = current_schema() AND table_name = ANY(%s)",
            [list(tables)],
        )
        for table, sequence in cursor.fetchall():
            if sequence:
                quote = connection.ops.quote_name(table)
                cursor.execute(f"SELECT setval(%s, COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {quote}", [sequence])


class Snapshot:
    """What a piece of setup (`build`) adds to the database, written back later in one go."""

    def __init__(self, build):
        self.build = build
        self.taken = None

    def apply(self):
        """Run the setup the first time, write back its result afterwards. Must run in a transaction (or a
        test's database access) like the setup itself."""
        if self.taken is None:
            self._take()
            return
        tables, before_counts, after = self.taken
        # From the state the setup started from, only the tables it changed; from any other state
        # (a flushed database), every table.
        changed = [t for t in tables if after[t][1]] if _counts(tables) == before_counts else tables
        with transaction.atomic():  # foreign keys are checked at the end, once every table is back
            for table in changed:
                _write(table, after[table][0])
            _reset_sequences(changed)
        ContentType.objects.clear_cache()

    def _take(self):
        tables = _tables()
        before_counts, before = _counts(tables), {table: _read(table) for table in tables}
        self.build()
        after = {}
        for table in tables:
            data = _read(table)
            after[table] = (data, data != before[table])
        self.taken = (tables, before_counts, after)
