//! The audit log's rows and the SQL both backends share to write and read them; the
//! batch insert of the audit writer differs (PostgreSQL: COPY; SQLite: sealed at once).

use crate::stamp::Stamp;
use lumio_core::AuditEvent;

use crate::{chain, rows, AuditEntry, AuditRecord, ChainedEntry, StoreError};

/// The columns [`AuditRow`] reads.
pub(crate) const COLUMNS: &str = "id, at, extension_id, environment, event, secret_name, actor, \
     action, request_id, outcome, detail";

/// Rows per INSERT: 12 binds each stays well under SQLite's 32,766-parameter limit (and
/// PostgreSQL's 65,535).
pub(crate) const ROWS_PER_INSERT: usize = 1000;

pub(crate) const INSERT: &str = "INSERT INTO ext_audit_log (at, extension_id, environment, \
     event, secret_name, actor, action, request_id, outcome, detail, seq, hash) ";

/// One record as stored, with its id.
#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: i64,
    at: Stamp,
    extension_id: i64,
    environment: Option<String>,
    event: String,
    secret_name: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    request_id: Option<String>,
    outcome: Option<String>,
    detail: Option<String>,
}

impl AuditRow {
    pub(crate) fn entry(self) -> Result<AuditEntry, StoreError> {
        Ok(AuditEntry {
            id: self.id,
            record: AuditRecord {
                at: self.at.0,
                extension_id: self.extension_id,
                environment: self
                    .environment
                    .as_deref()
                    .map(rows::environment)
                    .transpose()?,
                event: rows::audit_event(&self.event)?,
                secret_name: self.secret_name,
                actor: self.actor,
                action: self.action,
                request_id: self.request_id,
                outcome: self.outcome,
                detail: self.detail,
            },
        })
    }
}

/// A record with its chain columns (`seq, hash`, then [`COLUMNS`]).
#[derive(sqlx::FromRow)]
pub(crate) struct ChainedRow {
    seq: Option<i64>,
    hash: Option<Vec<u8>>,
    #[sqlx(flatten)]
    row: AuditRow,
}

impl ChainedRow {
    pub(crate) fn entry(self) -> Result<ChainedEntry, StoreError> {
        Ok(chain::chained(self.seq, self.hash, self.row.entry()?))
    }

    /// For the chain walk: a row whose event or environment no longer parses was edited
    /// outside Lumio. It is kept, with a stand-in record that cannot reproduce its stored
    /// hash (a NUL in `detail`: PostgreSQL text cannot hold one and Lumio never writes
    /// one), so verify reports that record as changed where it stands, as for any other
    /// edit, instead of failing as a whole.
    pub(crate) fn walked(self) -> Result<ChainedEntry, StoreError> {
        let (id, at, extension_id) = (self.row.id, self.row.at.0, self.row.extension_id);
        let entry = match self.row.entry() {
            Err(StoreError::Corrupt(_)) => AuditEntry {
                id,
                record: AuditRecord {
                    at,
                    ..chain::system_record(extension_id, AuditEvent::SecretGet, UNREADABLE.into())
                },
            },
            other => other?,
        };
        Ok(chain::chained(self.seq, self.hash, entry))
    }
}

/// The stand-in detail of a record verify cannot read (see [`ChainedRow::walked`]).
const UNREADABLE: &str = "\0a record edited outside Lumio";

/// The audit reads and the inserts that go into a caller's transaction, as inherent
/// methods of a store on database `$db` (see [`crate::store_impl`]).
macro_rules! audit_queries {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Inserts records on `conn`, inside the caller's transaction; sealed when
            /// `heads` holds their extensions' locked heads, else unsealed.
            pub(crate) async fn insert_records(
                conn: &mut <$db as sqlx::Database>::Connection,
                records: &[$crate::AuditRecord],
                mut heads: Option<&mut $crate::chain::Heads>,
            ) -> Result<(), sqlx::Error> {
                for chunk in records.chunks($crate::audit::ROWS_PER_INSERT) {
                    let mut sql = sqlx::QueryBuilder::<$db>::new($crate::audit::INSERT);
                    sql.push_values(chunk, |mut row, r| {
                        let sealed = heads.as_deref_mut().and_then(|heads| heads.seal(r));
                        row.push_bind($crate::stamp::Stamp(r.at))
                            .push_bind(r.extension_id)
                            .push_bind(r.environment.map(|e| e.as_str()))
                            .push_bind(r.event.as_str())
                            .push_bind(&r.secret_name)
                            .push_bind(&r.actor)
                            .push_bind(&r.action)
                            .push_bind(&r.request_id)
                            .push_bind(&r.outcome)
                            .push_bind(&r.detail)
                            .push_bind(sealed.map(|(seq, _)| seq))
                            .push_bind(sealed.map(|(_, hash)| hash.to_vec()));
                    });
                    sql.build().execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// Writes a change's records inside the change's transaction. Any failure here
            /// means the change must not commit: [`StoreError::AuditRefused`].
            pub(crate) async fn insert_change_records(
                conn: &mut <$db as sqlx::Database>::Connection,
                records: &[$crate::AuditRecord],
            ) -> Result<(), $crate::StoreError> {
                Self::insert_records(conn, records, None)
                    .await
                    .map_err(|e| $crate::StoreError::AuditRefused(e.to_string()))
            }

            /// Inserts records Lumio adds to chains itself, sealed under the held `heads`.
            pub(crate) async fn insert_sealed(
                conn: &mut <$db as sqlx::Database>::Connection,
                records: &[$crate::AuditRecord],
                heads: &mut $crate::chain::Heads,
            ) -> Result<(), $crate::StoreError> {
                Ok(Self::insert_records(conn, records, Some(heads)).await?)
            }

            pub(crate) async fn select_audit(
                &self,
                query: &$crate::AuditQuery,
            ) -> Result<Vec<$crate::AuditEntry>, $crate::StoreError> {
                let mut sql = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {} FROM ext_audit_log WHERE extension_id = ",
                    $crate::audit::COLUMNS
                ));
                sql.push_bind(query.extension_id);
                if let Some(environment) = query.environment {
                    // Extension-wide records (token and extension creation) belong to
                    // every environment.
                    sql.push(" AND (environment IS NULL OR environment = ")
                        .push_bind(environment.as_str())
                        .push(")");
                }
                if let Some(name) = &query.secret_name {
                    sql.push(" AND secret_name = ").push_bind(name);
                }
                if let Some(event) = &query.event {
                    sql.push(" AND event = ").push_bind(event);
                }
                if let Some(before) = query.before_id {
                    sql.push(" AND id < ").push_bind(before);
                }
                sql.push(" ORDER BY id DESC LIMIT ")
                    .push_bind(query.limit.max(0));
                let rows: Vec<$crate::audit::AuditRow> =
                    sql.build_query_as().fetch_all(self.readers()).await?;
                rows.into_iter()
                    .map($crate::audit::AuditRow::entry)
                    .collect()
            }

            pub(crate) async fn select_export(
                &self,
                query: &$crate::ExportQuery,
            ) -> Result<Vec<$crate::ChainedEntry>, $crate::StoreError> {
                let mut sql = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT seq, hash, {} FROM ext_audit_log WHERE extension_id = ",
                    $crate::audit::COLUMNS
                ));
                sql.push_bind(query.extension_id);
                if let Some(after) = query.after_id {
                    sql.push(" AND id > ").push_bind(after);
                }
                if let Some(since) = query.since {
                    sql.push(" AND at >= ")
                        .push_bind($crate::stamp::Stamp(since));
                }
                sql.push(" ORDER BY id LIMIT ")
                    .push_bind(query.limit.max(0));
                let rows: Vec<$crate::audit::ChainedRow> =
                    sql.build_query_as().fetch_all(self.readers()).await?;
                rows.into_iter()
                    .map($crate::audit::ChainedRow::entry)
                    .collect()
            }
        }
    };
}
pub(crate) use audit_queries;
