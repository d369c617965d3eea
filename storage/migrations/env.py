"""Alembic environment: always run with a connection handed in by ``storage.db.migrate``."""

from alembic import context

from storage.tables import metadata as target_metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through storage.db.migrate()")
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


run()
