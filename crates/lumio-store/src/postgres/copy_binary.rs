//! PostgreSQL's binary `COPY` format, for the audit log's batches: one `COPY … FROM STDIN`
//! is a single statement (one implicit transaction, one WAL flush) and skips the
//! per-row expression work of `INSERT … SELECT`, so a batch costs the server far less.
//! Only the three field types the audit log uses are written.

use chrono::{DateTime, TimeZone, Utc};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

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

    /// A `timestamptz`: microseconds since 2000-01-01 UTC.
    pub fn field_timestamptz(&mut self, at: DateTime<Utc>) {
        let micros = at
            .signed_duration_since(postgres_epoch())
            .num_microseconds();
        // Out of range only ±292,000 years from 2000; clamp rather than fail a batch.
        self.field_i64(micros.unwrap_or(if at > postgres_epoch() {
            i64::MAX
        } else {
            i64::MIN
        }));
    }

    pub fn field_text(&mut self, value: Option<&str>) {
        match value {
            None => self.buf.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(text) => {
                // A field longer than 2 GiB cannot reach here: every column is length-capped upstream.
                let len = i32::try_from(text.len()).unwrap_or(i32::MAX);
                self.buf.extend_from_slice(&len.to_be_bytes());
                self.buf.extend_from_slice(text.as_bytes());
            }
        }
    }

    /// The finished stream.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

fn postgres_epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .expect("2000-01-01 is a valid UTC time")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_header_rows_and_trailer() {
        let mut copy = CopyBinary::with_capacity(0);
        copy.row(3);
        copy.field_i64(7);
        copy.field_text(None);
        copy.field_timestamptz(postgres_epoch() + chrono::Duration::microseconds(5));
        let bytes = copy.finish();
        let mut expected = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec();
        expected.extend_from_slice(&[0, 3]);
        expected.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7]);
        expected.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        expected.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 5]);
        expected.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(bytes, expected);
    }
}
