-- Issue 12, item 5: the audit log partitioned by day (UTC) on `at`, so retention drops a
-- whole day's partition instead of deleting rows one by one.
--
-- The existing table becomes one partition covering everything before tomorrow, named
-- after its upper bound (`ext_audit_log_upto_YYYYMMDD`); no row is copied. From tomorrow
-- on, each day has its own partition `ext_audit_log_pYYYYMMDD`. The server creates them
-- ahead of time (`PgStore::prepare_audit_partitions`); this migration creates the first
-- week. There is no DEFAULT partition: it would rule out DETACH ... CONCURRENTLY, which is
-- what lets retention drop a partition without blocking writers.

ALTER TABLE ext_audit_log RENAME TO ext_audit_log_before_partitioning;
ALTER TABLE ext_audit_log_before_partitioning
    RENAME CONSTRAINT ext_audit_log_pkey TO ext_audit_log_before_partitioning_pkey;
ALTER TABLE ext_audit_log_before_partitioning ALTER COLUMN id DROP DEFAULT;
ALTER INDEX ext_audit_log_by_extension RENAME TO ext_audit_log_before_partitioning_by_extension;
ALTER INDEX ext_audit_log_by_event RENAME TO ext_audit_log_before_partitioning_by_event;
ALTER INDEX ext_audit_log_by_secret RENAME TO ext_audit_log_before_partitioning_by_secret;

CREATE TABLE ext_audit_log (
    id           BIGINT NOT NULL DEFAULT nextval('ext_audit_log_id_seq'),
    at           TIMESTAMPTZ NOT NULL,
    extension_id BIGINT NOT NULL,
    environment  TEXT,
    event        TEXT NOT NULL,
    secret_name  TEXT,
    actor        TEXT,
    action       TEXT,
    request_id   TEXT,
    outcome      TEXT,
    detail       TEXT
) PARTITION BY RANGE (at);
-- No primary key: a partitioned table's would have to include `at`, and ids come from one
-- sequence anyway. Nothing looks a record up by id alone; readers page by
-- (extension_id, id). The old partition keeps its own key.

ALTER SEQUENCE ext_audit_log_id_seq OWNED BY ext_audit_log.id;

DO $$
DECLARE
    tomorrow DATE := (now() AT TIME ZONE 'UTC')::date + 1;
    legacy TEXT := 'ext_audit_log_upto_' || to_char(tomorrow, 'YYYYMMDD');
    day DATE;
BEGIN
    EXECUTE format('ALTER TABLE ext_audit_log_before_partitioning RENAME TO %I', legacy);
    EXECUTE format(
        'ALTER TABLE ext_audit_log ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)',
        legacy, tomorrow::text || ' 00:00:00+00');
    FOR i IN 0..6 LOOP
        day := tomorrow + i;
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF ext_audit_log FOR VALUES FROM (%L) TO (%L)',
            'ext_audit_log_p' || to_char(day, 'YYYYMMDD'),
            day::text || ' 00:00:00+00', (day + 1)::text || ' 00:00:00+00');
    END LOOP;
END $$;

-- Created on the parent, these reuse the old table's identical indexes for its partition
-- and are created on every new partition.
CREATE INDEX ext_audit_log_by_extension ON ext_audit_log (extension_id, id DESC);
CREATE INDEX ext_audit_log_by_event ON ext_audit_log (extension_id, event, id DESC);
CREATE INDEX ext_audit_log_by_secret ON ext_audit_log (extension_id, secret_name, id DESC);
-- Retention deletes the rows of the partition straddling its cut-off by time; rows are
-- appended roughly in time order, so a block-range index finds them for almost nothing.
CREATE INDEX ext_audit_log_by_time ON ext_audit_log USING brin (at);
