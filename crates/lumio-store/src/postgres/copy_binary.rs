//! PostgreSQL's binary `COPY` format, for the audit log's batches: one `COPY … FROM STDIN`
//! is a single statement (one implicit transaction, one WAL flush) and skips the
//! per-row expression work of `INSERT … SELECT`, so a batch costs the server far less.
//! Only the field types the audit log uses are written.

use chrono::{DateTime, Utc};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// PostgreSQL's epoch, 2000-01-01 UTC, in microseconds since the Unix epoch.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Builds one binary `COPY` stream: header, rows, trailer.
pub(super) struct CopyBinary {
    buf: Vec<u8>,
}

impl CopyBinary {
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes + SIGNATURE.len() + 10);
        buf.extend_from_slice(SIGNATURE);
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        Self { buf }
    }

    /// Starts a row of `fields` fields; exactly that many `field_*` calls must follow.
    pub fn row(&mut self, fields: i16) {
        self.buf.extend_from_slice(&fields.to_be_bytes());
    }

    pub fn field_i64(&mut self, value: i64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    pub fn field_i64_or_null(&mut self, value: Option<i64>) {
        match value {
            None => self.null(),
            Some(value) => self.field_i64(value),
        }
    }

    /// A `timestamptz`: microseconds since 2000-01-01 UTC, floored like the chain's
    /// `at` (`timestamp_micros`), so the stored instant is the one that was hashed.
    pub fn field_timestamptz(&mut self, at: DateTime<Utc>) {
        // chrono's range (±262,000 years) fits in i64 microseconds.
        self.field_i64(at.timestamp_micros().saturating_sub(POSTGRES_EPOCH_MICROS));
    }

    pub fn field_text(&mut self, value: Option<&str>) {
        self.field_bytes(value.map(str::as_bytes));
    }

    /// A `bytea` (or, from UTF-8, a `text`): the bytes as they are.
    pub fn field_bytes(&mut self, value: Option<&[u8]>) {
        match value {
            None => self.null(),
            Some(bytes) => {
                // A field longer than 2 GiB cannot reach here: every column is length-capped upstream.
                let len = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
                self.buf.extend_from_slice(&len.to_be_bytes());
                self.buf.extend_from_slice(bytes);
            }
        }
    }

    fn null(&mut self) {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
    }

    /// The finished stream.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn postgres_epoch() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn encodes_header_rows_and_trailer() {
        let mut copy = CopyBinary::with_capacity(0);
        copy.row(5);
        copy.field_i64(7);
        copy.field_text(None);
        copy.field_timestamptz(postgres_epoch() + chrono::Duration::microseconds(5));
        copy.field_i64_or_null(None);
        copy.field_bytes(Some(&[1, 2]));
        let bytes = copy.finish();
        let mut expected = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec();
        expected.extend_from_slice(&[0, 5]);
        expected.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7]);
        expected.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        expected.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 5]);
        expected.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        expected.extend_from_slice(&[0, 0, 0, 2, 1, 2]);
        expected.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(bytes, expected);
    }
}
