//! The JSON engine of ingest: everything that reads JSON text byte by byte lives here, behind this one
//! interface. It owns two readers, each written for one job on the hot path:
//!
//! - [`Cursor`] (`cursor.rs`): validates a record's text against the JSON grammar in one pass and hands out the
//!   raw spans of the values it crosses, so the record reader takes envelope fields and body spans without
//!   building values or copying text. [`utf8`] is its UTF-8 check, [`validate`] the whole-value verdict.
//! - the body walker (`scan.rs`): finds fields, items and string bytes inside spans the cursor already
//!   validated, for fingerprints and response-body facts.
//!
//! It knows nothing of log records: what a field means is `record`'s business. Nothing outside `ingest` uses
//! it, except the scanning-floor benchmark (`examples/scan_floor.rs`), which times [`utf8`] and [`validate`].

mod cursor;
mod scan;

pub use cursor::{
    Cursor, MAX_DEPTH, SyntaxError, is_json_whitespace, trim_json_whitespace, trim_json_whitespace_end, utf8, validate,
};
pub(in crate::ingest) use scan::{
    array_items, object_fields, str_value, string_bytes, string_field, string_value, walk_strings,
};
