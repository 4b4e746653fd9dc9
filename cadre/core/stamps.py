"""Results computed from the data, kept in the cache exactly as long as the data they read has not changed.

A page that sums up a whole scope (the home page, the obligations calendar) reads a dozen tables at national
scale. It declares those tables (`Stamped(name, models)`); a trigger on each of them writes a new random value
in `core_tablestamp` whenever a statement changes a row, inside the writing transaction. The cache key holds
those values, read in one query: any write (a form, an import's bulk insert, a queryset update, a cascade
delete, raw SQL) makes a new key, and the old result is never served again.

Why triggers rather than Django signals: signals miss `update()`, `bulk_create()` and fast deletes, which the
imports use. Why a random value rather than a counter: a rolled-back transaction must not leave a value that a
later, different change takes again. On PostgreSQL the trigger runs once per statement; it keeps the table's
stamp row locked until the writer commits, so two transactions writing the same tracked table commit one
after the other — only tables some cached result reads are tracked.

On PostgreSQL the stamp row is written once per transaction, not once per statement: updating one row many
times in one transaction leaves a chain of versions that every later update walks (20,000 inserts took
3.4 s instead of 0.1 s). The statements that follow are counted in a transaction-local setting, part of the
stamp as that transaction sees it: the writer never reuses a result cached before its own later writes, and
once it commits (the settings end with it) everyone sees the one new value.
"""

import hashlib

from django.core.cache import cache
from django.db import connections

from cadre.core.models import TableStamp

CACHE_SECONDS = 24 * 3600  # a day at most: keys also change with the date for what depends on it

_TRACKED = set()  # tables that some Stamped reads: the ones that get triggers


def tables_of(models):
    tables = {model._meta.db_table for model in models}
    for model in models:  # many-to-many links are written without their model's save
        tables |= {field.remote_field.through._meta.db_table for field in model._meta.local_many_to_many}
    return tables


class Stamped:
    """A family of cached results (`name`) computed from `models` (their tables and many-to-many links)."""

    def __init__(self, name, models=()):
        self.name = name
        self.tables = set()
        self.add(models)

    def add(self, models):
        """Tables this family also reads (an app registering its part of a shared page)."""
        tables = tables_of(models)
        self.tables |= tables
        _TRACKED.update(tables)

    def stamp(self):
        """The current values of the tables read, in one query."""
        connection = connections["default"]
        if connection.vendor != "postgresql":
            versions = dict(TableStamp.objects.filter(name__in=self.tables).values_list("name", "version"))
            return tuple(versions.get(table, 0) for table in sorted(self.tables))
        with connection.cursor() as cursor:
            cursor.execute(_POSTGRESQL_STAMP, [sorted(self.tables)])
            return tuple(cursor.fetchall())

    def get(self, key_parts, build):
        """`build()`, or what it gave last time for the same `key_parts` if no table read changed since.
        `key_parts` names everything else the result depends on: the user and their scope, the day."""
        digest = hashlib.sha256(repr((tuple(key_parts), self.stamp())).encode()).hexdigest()
        key = f"cadre:stamped:{self.name}:{digest}"
        result = cache.get(key)
        if result is None:
            result = build()
            cache.set(key, result, CACHE_SECONDS)
        return result


def user_key(user):
    """What of a user a scoped result depends on: who they are and what their memberships give them."""
    return (user.pk, user.scope_key, user.is_active, user.is_superuser, user.is_staff)


# -- Triggers, installed after every migrate (a table that SQLite rebuilds loses its triggers) --------------

_POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION cadre_stamp_table() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    writes text := coalesce(current_setting('cadre.writes_' || TG_TABLE_NAME, true), '');
BEGIN
    IF writes = '' THEN
        INSERT INTO core_tablestamp (name, version) VALUES (TG_TABLE_NAME, (random() * 9e15)::bigint)
        ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version;
        writes := '0';
    END IF;
    PERFORM set_config('cadre.writes_' || TG_TABLE_NAME, (writes::bigint + 1)::text, true);
    RETURN NULL;
END;
$$
"""

# Each table's value and, inside a transaction that wrote it, how many statements did.
_POSTGRESQL_STAMP = """
SELECT coalesce(stamp.version, 0), coalesce(current_setting('cadre.writes_' || tracked.name, true), '')
FROM unnest(%s::text[]) WITH ORDINALITY AS tracked (name, position)
LEFT JOIN core_tablestamp AS stamp ON stamp.name = tracked.name
ORDER BY tracked.position
"""


def _postgresql_statements(table):
    return [
        f'DROP TRIGGER IF EXISTS cadre_stamp ON "{table}"',
        f'CREATE TRIGGER cadre_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}" '
        "FOR EACH STATEMENT EXECUTE FUNCTION cadre_stamp_table()",
    ]


def _sqlite_statements(table):
    # SQLite has row triggers only: one upsert per row written, cheap on an embedded database.
    return [
        f'CREATE TRIGGER IF NOT EXISTS "cadre_stamp_{table}_{event.lower()}" AFTER {event} ON "{table}" BEGIN '
        f"INSERT INTO core_tablestamp (name, version) VALUES ('{table}', random()) "
        "ON CONFLICT (name) DO UPDATE SET version = excluded.version; END"
        for event in ("INSERT", "UPDATE", "DELETE")
    ]


def install_triggers(using="default", **kwargs):
    connection = connections[using]
    existing = set(connection.introspection.table_names())
    statements = [_POSTGRESQL_FUNCTION] if connection.vendor == "postgresql" else []
    for table in sorted(_TRACKED & existing):
        statements += (_postgresql_statements if connection.vendor == "postgresql" else _sqlite_statements)(table)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
