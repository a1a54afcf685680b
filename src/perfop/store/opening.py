"""Opening the store: engines, schema creation and migration, read-only and not-yet-created stores.

An up-to-date store opens with one read of ``perfop_meta`` (version and table list), no DDL and
no import of the table modules (``perfop.store.TABLES`` names their tables).
Opening never writes to a store that needs nothing: stale runs are reaped only when there are
some, and skipped with a note when the store cannot be written (read-only path, full disk). A
SQLite store that cannot even be opened for writing is opened read-only (``mode=ro``, then
``immutable`` when SQLite cannot create its shared-memory file), so read-only commands still
work. With ``lazy`` (the CLI and MCP server), a store that does not exist yet is not created
until the first write: reads see an empty in-memory twin, so a rejected command leaves no file.
A new SQLite file is built under a temporary name and linked into place complete, so a failed
first open (full disk) never leaves a file without tables.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import Pool, SingletonThreadPool

from perfop.errors import StoreError
from perfop.store import schema as s
from perfop.store.core import Store, _display_url, _normalise_url

# PostgreSQL advisory lock key for schema changes ("perfop" in ASCII): SQLite's write
# transaction (BEGIN IMMEDIATE) already serializes them, PostgreSQL's does not lock DDL.
SCHEMA_LOCK = 0x706572666F70

# SQLite errors that mean "this file cannot be written here", not "this is not a store".
_CANNOT_WRITE = (
    "readonly",
    "read-only",
    "unable to open database file",
    "disk is full",
    "disk i/o error",
)


def _sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other backends and in-memory databases)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _check_folder(url: str, path: Path) -> None:
    if not path.parent.is_dir() and not (
        path.parent.name == ".perfop" and path.parent.parent.is_dir()
    ):
        # Only perfop's own folder is created; a typo must not make directories.
        raise StoreError(
            f"store {_display_url(url)}: folder {path.parent} does not exist; "
            "create it first or check the URL"
        )


def _parse(url: str) -> str:
    url = _normalise_url(url)
    try:
        sa.engine.make_url(url)
    except ArgumentError:
        raise StoreError(
            f"store URL {_display_url(url)!r} is not a valid SQLAlchemy URL; "
            "use e.g. sqlite:///.perfop/perfop.db or postgresql://user@host/db"
        ) from None
    return url


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite, perfop's folder is created when missing."""
    url = _parse(url)
    path = _sqlite_path(url)
    if path is not None:
        _check_folder(url, path)
        _make_folder(path)
    return _engine(url)


def _make_folder(path: Path) -> None:
    try:
        path.parent.mkdir(exist_ok=True)
        _self_ignore(path.parent)
    except OSError as exc:
        raise StoreError(f"cannot create store directory {path.parent}: {exc.strerror}") from None


def _utf8_only(url: str) -> Callable[[Any, Any], None]:
    """A connect hook refusing a PostgreSQL database whose encoding is not UTF8 (SQL_ASCII)."""

    def check(dbapi_conn: Any, _rec: Any) -> None:
        cur = dbapi_conn.cursor()
        try:
            cur.execute("SHOW server_encoding")
            row = cur.fetchone()
        finally:
            cur.close()
        encoding = row[0] if row else "?"
        encoding = encoding.decode() if isinstance(encoding, bytes) else str(encoding)
        if encoding.upper() not in ("UTF8", "UTF-8"):
            raise StoreError(
                f"store {_display_url(url)}: the database's encoding is {encoding}, perfop "
                "needs UTF8; create it with: createdb -E UTF8 -T template0 NAME "
                "(or CREATE DATABASE NAME ENCODING 'UTF8' TEMPLATE template0)"
            )

    return check


def _engine(
    url: str, *, wal: bool = True, read_only: bool = False, pool: type[Pool] | None = None
) -> Engine:
    backend = sa.engine.make_url(url).get_backend_name()
    if backend != "sqlite":
        postgres = backend == "postgresql"
        try:
            # A SQL_ASCII database hands text back as bytes: talk UTF-8, then check it below.
            args = {"client_encoding": "utf8"} if postgres else {}
            engine = sa.create_engine(url, pool_pre_ping=True, connect_args=args)
        except (NoSuchModuleError, ModuleNotFoundError, ImportError):
            raise StoreError(
                f"no driver for store {_display_url(url)!r}; "
                "install it with: pip install 'perfop[postgres]'"
            ) from None
        if postgres:
            event.listen(engine, "connect", _utf8_only(url))
        return engine
    extra: dict[str, Any] = {} if pool is None else {"poolclass": pool}
    engine = sa.create_engine(url, connect_args={"timeout": 60}, **extra)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _rec: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN (the pysqlite recipe in its docs).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA busy_timeout=60000")
            if wal and not read_only:
                try:
                    _set_wal(cur)
                except sqlite3.OperationalError as exc:
                    if not _cannot_write(exc):
                        raise  # a file that cannot be written is still read in its own mode
            if read_only:
                cur.execute("PRAGMA query_only=ON")
            else:
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
        except BaseException:
            cur.close()
            dbapi_conn.close()  # the pool never sees a connection whose set-up failed
            raise

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Writers take the lock up front: a deferred transaction that upgrades to a write
        # can fail with SQLITE_BUSY at once instead of waiting for the busy timeout.
        read = read_only or conn.get_execution_options().get("perfop_read")
        conn.exec_driver_sql(f"BEGIN {'DEFERRED' if read else 'IMMEDIATE'}")

    return engine


def _set_wal(cur: Any, *, attempts: int = 200) -> None:
    """Switch to WAL, retrying while another process holds the lock.

    Changing the journal mode needs an exclusive lock, and SQLite may answer SQLITE_BUSY at once
    instead of calling the busy handler, so two perfop processes creating one new store at the
    same moment would otherwise fail with "database is locked".
    """
    for attempt in range(attempts):
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(min(0.01 * (attempt + 1), 0.2))


def _self_ignore(directory: Path) -> None:
    """perfop's own folder ignores itself, so it never shows up in the user's ``git status``."""
    if directory.name == ".perfop":
        marker = directory / ".gitignore"
        if not marker.exists() or marker.stat().st_size == 0:  # empty: a full disk's leftover
            try:
                marker.write_text("# written by perfop: everything here is perfop's own\n*\n")
            except OSError:
                with contextlib.suppress(OSError):
                    marker.unlink()
                raise


def _cannot_write(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return any(k in text for k in _CANNOT_WRITE)


# --- schema --------------------------------------------------------------------------------------
def _tables_key() -> str:
    from perfop.store import TABLES

    return ",".join(sorted(TABLES))


def _full_schema() -> None:
    """Define every table on ``s.metadata`` (and register the table modules' migrations)."""
    from perfop.store import load_table_modules

    load_table_modules()


def _lock_schema(conn: Connection) -> None:
    """Serialize schema creation and migration across processes (held until commit)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})


def _meta_values(conn: Connection) -> dict[str, str] | None:
    """perfop_meta's version and table list in one query; None when there is no perfop_meta."""
    try:
        with conn.begin_nested():
            rows = conn.execute(
                sa.select(s.meta.c.key, s.meta.c.value).where(
                    s.meta.c.key.in_(["schema_version", "tables"])
                )
            ).all()
    except (OperationalError, sa.exc.ProgrammingError) as exc:
        if _cannot_write(exc):
            raise
        return None
    return {str(k): str(v) for k, v in rows}


def _version(conn: Connection, values: dict[str, str] | None) -> int | None:
    url = str(conn.engine.url)
    if values is None:
        _refuse_foreign(url, sa.inspect(conn).get_table_names())
        return None
    return _parse_version(url, values.get("schema_version"))


def _refuse_foreign(url: str, tables: Iterable[str]) -> None:
    """A store without perfop_meta that holds tables of perfop's names is someone else's."""
    from perfop.store import TABLES

    foreign = sorted(set(tables) & set(TABLES))
    if foreign:
        raise StoreError(
            f"store {_display_url(url)} has table(s) {', '.join(foreign)} "
            "that perfop did not create (no perfop_meta); give perfop a store of its own"
        )


def _parse_version(url: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise StoreError(
            f"store {_display_url(url)}: perfop_meta.schema_version is "
            f"{value[:40]!r}, not a number; the store is damaged or not perfop's"
        ) from None


def _probe_sqlite(url: str, path: Path) -> None:
    """Refuse a SQLite file that is not perfop's, or too new, before anything writes to it.

    Opening for writing switches a file to WAL (bytes 18-19 of its header) and may leave -wal
    and -shm files, so the check runs on a read-only connection first. Anything this probe
    cannot read (not a database, locked, a WAL file without its -shm) is left to the normal
    open, which says why.
    """
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True, timeout=60)
    except sqlite3.Error:
        return
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        value = None
        if "perfop_meta" in tables:
            row = con.execute(
                "SELECT value FROM perfop_meta WHERE key = 'schema_version'"
            ).fetchone()
            value = None if row is None else str(row[0])
    except sqlite3.Error:
        return
    finally:
        con.close()
    if "perfop_meta" not in tables:
        _refuse_foreign(url, tables)
        return
    version = _parse_version(url, value)
    if version is not None and version > s.SCHEMA_VERSION:
        raise StoreError(
            f"store {_display_url(url)} has schema version {version}, newer than this perfop "
            f"understands ({s.SCHEMA_VERSION}); upgrade perfop"
        )


def _too_new(store: Store, version: int) -> StoreError:
    return StoreError(
        f"store {store.display_url} has schema version {version}, newer than this perfop "
        f"understands ({s.SCHEMA_VERSION}); upgrade perfop"
    )


def _is_current(store: Store) -> tuple[bool, int | None]:
    """(up to date, version) from one read; raises for a newer or damaged store."""
    with store.read() as conn:
        values = _meta_values(conn)
        version = _version(conn, values)
    if version is not None and version > s.SCHEMA_VERSION:
        raise _too_new(store, version)
    current = (
        version == s.SCHEMA_VERSION and values is not None and values.get("tables") == _tables_key()
    )
    return current, version


def _upgrade(store: Store) -> None:
    """Create or migrate the schema under the write lock (another process may have won)."""
    _full_schema()
    with store.write() as conn:
        _lock_schema(conn)
        version = _version(conn, _meta_values(conn))
        if version is None:
            s.metadata.create_all(conn)
            conn.execute(s.meta.insert().values(key="schema_version", value=str(s.SCHEMA_VERSION)))
        else:
            if version > s.SCHEMA_VERSION:
                raise _too_new(store, version)
            for target in range(version + 1, s.SCHEMA_VERSION + 1):
                step = s.MIGRATIONS.get(target)
                if step is None:
                    raise StoreError(f"no migration from schema {target - 1} to {target}")
                step(conn)
            s.metadata.create_all(conn)  # tables added since, which need no data migration
            conn.execute(
                s.meta.update()
                .where(s.meta.c.key == "schema_version")
                .values(value=str(s.SCHEMA_VERSION))
            )
        conn.execute(s.meta.delete().where(s.meta.c.key == "tables"))
        conn.execute(s.meta.insert().values(key="tables", value=_tables_key()))


_twins = itertools.count()


def _memory_twin() -> Engine:
    # A named, shared-cache in-memory database: SQLAlchemy keeps one connection per thread for
    # an in-memory SQLite database, and a plain ``sqlite://`` gives each of them a database of
    # its own, so an MCP worker thread would read a store without tables.
    # A connection of its own keeps the database alive whichever thread's connection the pool
    # closes, until the engine is disposed.
    name = f"file:perfop-twin-{os.getpid()}-{next(_twins)}?mode=memory&cache=shared"
    _full_schema()
    keeper = sqlite3.connect(name, uri=True, check_same_thread=False)
    engine = _engine(f"sqlite:///{name}&uri=true", wal=False, pool=SingletonThreadPool)
    event.listen(engine, "engine_disposed", lambda _engine: keeper.close())
    with engine.begin() as conn:
        s.metadata.create_all(conn)
    return engine


# --- creating a SQLite file ----------------------------------------------------------------------
def _create_sqlite(url: str, path: Path) -> Engine:
    """Build the store under a temporary name and link it into place with its whole schema."""
    made_folder = not path.parent.exists()
    _make_folder(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        engine = _engine(f"sqlite:///{tmp}", wal=False)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
            _upgrade(Store(engine, url))
        finally:
            engine.dispose()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
        except OSError:
            if not path.exists():  # a file system without hard links
                os.replace(tmp, path)
    except (OSError, SQLAlchemyError, StoreError) as exc:
        if made_folder:
            with contextlib.suppress(OSError):
                (path.parent / ".gitignore").unlink()
                path.parent.rmdir()
        reason = str(getattr(exc, "strerror", None) or getattr(exc, "orig", None) or exc)
        reason = reason.split("write failed: ", 1)[-1]  # a StoreError from the write
        raise StoreError(f"cannot create store {_display_url(url)}: {reason}") from None
    finally:
        for leftover in (tmp, Path(f"{tmp}-journal")):
            with contextlib.suppress(OSError):
                leftover.unlink()
    return _engine(url)


def _exists(path: Path) -> bool:
    """A SQLite file that holds something (an empty file counts as not created)."""
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


# --- open ----------------------------------------------------------------------------------------
def open_store(url: str, *, reap: bool = True, lazy: bool = False) -> Store:
    """Open the store at ``url``, creating or migrating it when needed (see the module doc).

    A store written by a newer perfop raises ``StoreError`` before anything is written.
    """
    url = _parse(url)
    path = _sqlite_path(url)
    if path is not None:
        _check_folder(url, path)
        if not _exists(path):
            if lazy:
                return Store(_memory_twin(), url, create=lambda: _create_sqlite(url, path))
            store = Store(_create_sqlite(url, path), url)
            return _finish_open(store, reap=reap)
        _probe_sqlite(url, path)
    store = Store(_engine(url), url)
    try:
        current, version = _is_current(store)
        if not current:
            if version is None and lazy and path is None:
                # A database without perfop's tables: create them on the first write.
                twin = Store(_memory_twin(), url, create=lambda: _created_server(url))
                store.close()
                return twin
            _upgrade_or_explain(store, version)
    except OperationalError as exc:
        store.close()
        if path is not None and _cannot_write(exc):
            return _finish_open(_read_only(url, path, str(exc.orig)), reap=False)
        raise StoreError(f"cannot open store {_display_url(url)}: {exc.orig}") from None
    except SQLAlchemyError as exc:
        store.close()
        raise StoreError(f"cannot open store {_display_url(url)}: {exc}") from None
    except StoreError:
        store.close()
        raise
    return _finish_open(store, reap=reap)


def _created_server(url: str) -> Engine:
    engine = _engine(url)
    _upgrade(Store(engine, url))
    return engine


def _upgrade_or_explain(store: Store, version: int | None) -> None:
    try:
        _upgrade(store)
    except StoreError as exc:
        if version is not None and _cannot_write(exc):
            raise StoreError(
                f"store {store.display_url} has schema version {version} and cannot be written "
                f"({exc}); open it once where it can be written to upgrade it to "
                f"{s.SCHEMA_VERSION}"
            ) from None
        raise


def _read_only(url: str, path: Path, reason: str) -> Store:
    """The SQLite store opened read-only: ``mode=ro``, else ``immutable`` (no -shm needed)."""
    last: Exception | None = None
    for query in ("mode=ro", "mode=ro&immutable=1"):
        engine = _engine(f"sqlite:///file:{path}?{query}&uri=true", read_only=True)
        store = Store(engine, url, read_only=reason)
        try:
            current, version = _is_current(store)
        except (OperationalError, StoreError) as exc:
            store.close()
            last = exc
            if isinstance(exc, StoreError):
                raise
            continue
        if not current:
            store.close()
            raise StoreError(
                f"store {_display_url(url)} has schema version {version} and cannot be "
                f"written; open it once where it can be written to upgrade it to "
                f"{s.SCHEMA_VERSION}"
            )
        store.notes.append(
            f"store {_display_url(url)} cannot be written ({reason}); opened read-only, "
            "so commands that record anything will fail"
        )
        return store
    raise StoreError(f"cannot open store {_display_url(url)}: {getattr(last, 'orig', last)}")


def _finish_open(store: Store, *, reap: bool) -> Store:
    if reap and not store.read_only:
        try:
            store.reap_stale_runs()
        except StoreError as exc:
            store.notes.append(f"stale runs were not marked interrupted: {exc}")
    return store
