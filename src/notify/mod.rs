//! Notify: delivers what the report and the recommender produce. [`email`] builds a MIME message (an HTML body
//! with a plain-text alternative, images the HTML shows inline, and attachments) and sends it over SMTP with
//! lettre, or writes it as a `.eml` file for `--dry-run`. This module owns the network and the files it writes; it
//! formats nothing itself, and the SMTP password reaches it only as an argument read from the environment by the
//! CLI (never logged, never in a `.eml`).
//!
//! For other commands (e.g. `recommend --email-to`): build an [`Email`] and call [`deliver`].

pub mod email;

pub use email::{
    Attachment, Delivery, Email, Error, Related, build_message, deliver, parse_recipients, send, write_eml,
};
