//! Email over SMTP (lettre, rustls): one transaction per message, recipients checked one by one before any data is
//! sent, so a rejected recipient means nothing was delivered to anyone, and the error names that recipient.
//! TLS is STARTTLS (required once asked for: a server that does not offer it is an error, not a fallback to clear
//! text), implicit TLS, or none (a local relay). Certificates are checked against the system roots plus an optional
//! extra CA file (`smtp.ca_file`); verification is never turned off.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, SmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, Message};

use crate::config::{SmtpConfig, SmtpTls};

/// How long one SMTP exchange may take before the send fails.
const TIMEOUT_SECS: u64 = 60;

/// A message to send: the subject, an HTML body with its plain-text alternative, the parts the HTML shows inline
/// (images it references as `cid:`), and attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Sent beside the HTML in a `multipart/related`, each with its `Content-ID`.
    pub related: Vec<Related>,
    pub attachments: Vec<Attachment>,
}

/// A part the HTML body shows inline, e.g. an image it references as `<img src="cid:{content_id}">`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// The `Content-ID` without its angle brackets, e.g. `chart-2025-12@bedrock-spend`.
    pub content_id: String,
    /// The name a reader sees when saving it, e.g. `daily-spend-2025-12.png`.
    pub filename: String,
    /// A MIME type, e.g. `image/png`.
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A file attached to an [`Email`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    /// A MIME type, e.g. `text/csv; charset=utf-8`.
    pub content_type: String,
    pub body: Vec<u8>,
}

/// Where a message goes: sent over SMTP, or written to a `.eml` file (`--dry-run`).
#[derive(Debug, Clone)]
pub enum Delivery<'a> {
    Smtp { config: &'a SmtpConfig, password: Option<&'a str> },
    Eml { path: &'a Path, from: &'a str },
}

/// Why an email was not delivered. Every variant means nothing was sent (except [`Error::Quit`], which comes after
/// the server accepted the message and is reported only as a warning by [`deliver`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no recipients (give --email-to ADDR[,ADDR])")]
    NoRecipients,
    #[error("invalid sender address {address:?} (smtp.from)")]
    Sender { address: String, source: lettre::address::AddressError },
    #[error("invalid recipient address {address:?}")]
    Recipient { address: String, source: lettre::address::AddressError },
    #[error("cannot build the message")]
    Build(#[from] lettre::error::Error),
    #[error("invalid MIME type {content_type:?} for {filename}")]
    ContentType { filename: String, content_type: String, source: lettre::message::header::ContentTypeErr },
    #[error("cannot read the CA certificate {path} (smtp.ca_file)")]
    CaFile { path: PathBuf, source: std::io::Error },
    #[error("the CA certificate {path} is not a PEM certificate (smtp.ca_file)")]
    CaPem { path: PathBuf, source: lettre::transport::smtp::Error },
    #[error("SMTP server {host}:{port} refused the connection")]
    ConnectionRefused { host: String, port: u16, source: lettre::transport::smtp::Error },
    #[error("cannot connect to SMTP server {host}:{port}")]
    Connect { host: String, port: u16, source: lettre::transport::smtp::Error },
    #[error("TLS with SMTP server {host}:{port} failed")]
    Tls { host: String, port: u16, source: lettre::transport::smtp::Error },
    #[error(
        "SMTP server {host}:{port} does not offer STARTTLS; refusing to send in clear text (smtp.tls = \"none\" is \
         for a local relay)"
    )]
    NoStartTls { host: String, port: u16 },
    #[error("smtp.username is {username:?} but BEDROCK_SPEND_SMTP_PASSWORD is not set")]
    MissingPassword { username: String },
    #[error("SMTP authentication as {username:?} failed")]
    Auth { username: String, source: lettre::transport::smtp::Error },
    #[error("the SMTP server rejected the sender {sender}; nothing was sent")]
    SenderRejected { sender: String, source: lettre::transport::smtp::Error },
    #[error("the SMTP server rejected recipient {recipient}; nothing was sent")]
    RecipientRejected { recipient: String, source: lettre::transport::smtp::Error },
    #[error("the SMTP server refused the message; nothing was sent")]
    MessageRejected { source: lettre::transport::smtp::Error },
    #[error("the SMTP server accepted the message but the connection did not close cleanly")]
    Quit { source: lettre::transport::smtp::Error },
    #[error("cannot write {path}")]
    WriteEml { path: PathBuf, source: std::io::Error },
}

impl Error {
    /// The exit code a scheduler sees when the email was not delivered: 3 (the report itself was built; exit 2
    /// stays for errors that stop a command before it has anything to send).
    pub const EXIT_CODE: u8 = 3;
}

/// `a@x, b@y` into addresses; an empty list is an error.
pub fn parse_recipients(list: &[String]) -> Result<Vec<Address>, Error> {
    let mut out = Vec::new();
    for item in list.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty()) {
        out.push(item.parse::<Address>().map_err(|source| Error::Recipient { address: item.to_string(), source })?);
    }
    if out.is_empty() {
        return Err(Error::NoRecipients);
    }
    Ok(out)
}

/// The MIME message: `multipart/mixed` of a `multipart/alternative` (plain text first, then HTML) and the
/// attachments. With related parts the HTML alternative is a `multipart/related` of the HTML and those parts
/// (RFC 2387), so clients show them in the body rather than as attachments:
///
/// ```text
/// multipart/mixed [ multipart/alternative [ text/plain, multipart/related [ text/html, image/png ] ], text/csv ]
/// ```
///
/// lettre adds the `Date` and `Message-ID` headers.
pub fn build_message(from: &str, to: &[Address], email: &Email) -> Result<Message, Error> {
    let sender: Mailbox = from.parse().map_err(|source| Error::Sender { address: from.to_string(), source })?;
    if to.is_empty() {
        return Err(Error::NoRecipients);
    }
    let mut builder = Message::builder().from(sender).subject(email.subject.clone());
    for address in to {
        builder = builder.to(Mailbox::new(None, address.clone()));
    }
    let content_type = |filename: &str, text: &str| {
        ContentType::parse(text).map_err(|source| Error::ContentType {
            filename: filename.to_string(),
            content_type: text.to_string(),
            source,
        })
    };
    let plain = MultiPart::alternative().singlepart(SinglePart::plain(email.text.clone()));
    let html = SinglePart::html(email.html.clone());
    let alternative = if email.related.is_empty() {
        plain.singlepart(html)
    } else {
        let mut related = MultiPart::related().singlepart(html);
        for r in &email.related {
            let part = MimeAttachment::new_inline_with_name(r.content_id.clone(), r.filename.clone())
                .body(r.body.clone(), content_type(&r.filename, &r.content_type)?);
            related = related.singlepart(part);
        }
        plain.multipart(related)
    };
    let mut mixed = MultiPart::mixed().multipart(alternative);
    for a in &email.attachments {
        let part =
            MimeAttachment::new(a.filename.clone()).body(a.body.clone(), content_type(&a.filename, &a.content_type)?);
        mixed = mixed.singlepart(part);
    }
    Ok(builder.multipart(mixed)?)
}

/// Write the message as a `.eml` file (whole or not at all).
pub fn write_eml(path: &Path, message: &Message) -> Result<(), Error> {
    crate::output_file::write_whole(path, &message.formatted())
        .map_err(|source| Error::WriteEml { path: path.to_path_buf(), source })
}

/// Build and deliver `email` to `to`. Returns a warning when the server accepted the message but the goodbye
/// failed (the message went out; the scheduler should not resend it).
pub fn deliver(delivery: &Delivery<'_>, to: &[Address], email: &Email) -> Result<Option<Error>, Error> {
    match delivery {
        Delivery::Eml { path, from } => {
            write_eml(path, &build_message(from, to, email)?)?;
            Ok(None)
        }
        Delivery::Smtp { config, password } => {
            let message = build_message(&config.from, to, email)?;
            send(config, *password, &message)
        }
    }
}

fn tls_parameters(config: &SmtpConfig) -> Result<TlsParameters, Error> {
    let tls_err = |source| Error::Tls { host: config.host.clone(), port: config.port, source };
    let mut builder = TlsParameters::builder(config.host.clone());
    if let Some(path) = &config.ca_file {
        let pem = std::fs::read(path).map_err(|source| Error::CaFile { path: path.clone(), source })?;
        let cert = Certificate::from_pem(&pem).map_err(|source| Error::CaPem { path: path.clone(), source })?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build_rustls().map_err(tls_err)
}

fn refused(e: &lettre::transport::smtp::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused) {
            return true;
        }
        source = err.source();
    }
    false
}

/// Send a built message over one SMTP connection: connect (implicit TLS if configured), STARTTLS when asked for,
/// authenticate when a username is set, then MAIL, each RCPT (a rejection stops before DATA, naming the
/// recipient), DATA and QUIT.
pub fn send(config: &SmtpConfig, password: Option<&str>, message: &Message) -> Result<Option<Error>, Error> {
    let (host, port) = (config.host.clone(), config.port);
    let hello = ClientId::default();
    let timeout = Some(Duration::from_secs(TIMEOUT_SECS));
    let implicit = match config.tls {
        SmtpTls::Implicit => Some(tls_parameters(config)?),
        _ => None,
    };
    let credentials = match &config.username {
        Some(username) => {
            let password = password.ok_or_else(|| Error::MissingPassword { username: username.clone() })?;
            Some((username.clone(), Credentials::new(username.clone(), password.to_string())))
        }
        None => None,
    };
    let mut conn =
        SmtpConnection::connect((host.as_str(), port), timeout, &hello, implicit.as_ref(), None).map_err(|source| {
            if refused(&source) {
                Error::ConnectionRefused { host: host.clone(), port, source }
            } else if source.is_tls() || implicit.is_some() && !source.is_timeout() && !source.is_response() {
                Error::Tls { host: host.clone(), port, source }
            } else {
                Error::Connect { host: host.clone(), port, source }
            }
        })?;
    if config.tls == SmtpTls::StartTls {
        if !conn.can_starttls() {
            conn.abort();
            return Err(Error::NoStartTls { host, port });
        }
        let params = tls_parameters(config)?;
        // The handshake runs on the first exchange after the upgrade (the EHLO inside `starttls`), so every
        // failure of this step is a TLS failure.
        conn.starttls(&params, &hello).map_err(|source| Error::Tls { host: host.clone(), port, source })?;
    }
    if let Some((username, credentials)) = credentials
        && let Err(source) = conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
    {
        conn.abort();
        return Err(Error::Auth { username, source });
    }
    let envelope = message.envelope();
    let sender = envelope.from().map(ToString::to_string).unwrap_or_default();
    if let Err(source) = conn.command(Mail::new(envelope.from().cloned(), vec![])) {
        conn.abort();
        return Err(Error::SenderRejected { sender, source });
    }
    for recipient in envelope.to() {
        if let Err(source) = conn.command(Rcpt::new(recipient.clone(), vec![])) {
            // No DATA was sent: aborting here delivers nothing to anyone.
            conn.abort();
            return Err(Error::RecipientRejected { recipient: recipient.to_string(), source });
        }
    }
    if let Err(source) = conn.command(Data).and_then(|_| conn.message(&message.formatted())) {
        conn.abort();
        return Err(Error::MessageRejected { source });
    }
    Ok(conn.quit().err().map(|source| Error::Quit { source }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email {
            subject: "Spend, December 2025: $5.37".into(),
            text: "plain".into(),
            html: "<p>html</p>".into(),
            related: vec![],
            attachments: vec![Attachment {
                filename: "report-2025-12.csv".into(),
                content_type: "text/csv; charset=utf-8".into(),
                body: b"a,b\n1,2\n".to_vec(),
            }],
        }
    }

    #[test]
    fn recipients_split_on_commas_and_bad_ones_are_named() {
        let to = parse_recipients(&["a@x.test, b@y.test".into(), "c@z.test".into()]).unwrap();
        assert_eq!(to.len(), 3);
        let err = parse_recipients(&["a@x.test,not-an-address".into()]).unwrap_err();
        assert!(err.to_string().contains("not-an-address"), "{err}");
        assert!(matches!(parse_recipients(&[" , ".into()]), Err(Error::NoRecipients)));
    }

    #[test]
    fn the_message_has_both_alternatives_and_the_attachment() {
        let to = parse_recipients(&["finance@example.test".into()]).unwrap();
        let m = build_message("FinOps <finops@example.test>", &to, &email()).unwrap();
        let text = String::from_utf8(m.formatted()).unwrap();
        assert!(text.contains("Subject: Spend, December 2025: $5.37"), "{text}");
        assert!(text.contains("multipart/alternative") && text.contains("multipart/mixed"));
        assert!(text.contains("Content-Type: text/plain") && text.contains("Content-Type: text/html"));
        assert!(text.contains("filename=\"report-2025-12.csv\""), "{text}");
    }

    /// With a related part: the HTML and the image sit in one `multipart/related` inside the alternative, the image
    /// with the Content-ID the HTML names, and the attachment stays outside.
    #[test]
    fn related_parts_go_beside_the_html() {
        let to = parse_recipients(&["finance@example.test".into()]).unwrap();
        let mut e = email();
        e.html = r#"<img src="cid:chart@test">"#.into();
        e.related = vec![Related {
            content_id: "chart@test".into(),
            filename: "chart.png".into(),
            content_type: "image/png".into(),
            body: vec![0x89, b'P', b'N', b'G'],
        }];
        let text = String::from_utf8(build_message("a@b.test", &to, &e).unwrap().formatted()).unwrap();
        let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("no {needle} in {text}"));
        assert!(at("multipart/mixed") < at("multipart/alternative"));
        assert!(at("multipart/alternative") < at("Content-Type: text/plain"));
        assert!(at("Content-Type: text/plain") < at("multipart/related"));
        assert!(at("multipart/related") < at("Content-Type: text/html"));
        assert!(at("Content-Type: text/html") < at("Content-ID: <chart@test>"));
        assert!(at("Content-ID: <chart@test>") < at("filename=\"report-2025-12.csv\""));
        assert!(text.contains("Content-Type: image/png") && text.contains("Content-Disposition: inline"), "{text}");

        e.related[0].content_type = "not a type".into();
        let err = build_message("a@b.test", &to, &e).unwrap_err();
        assert!(matches!(&err, Error::ContentType { filename, .. } if filename == "chart.png"), "{err}");
    }

    #[test]
    fn a_username_without_a_password_fails_before_connecting() {
        let config = SmtpConfig {
            host: "127.0.0.1".into(),
            port: 9,
            tls: SmtpTls::None,
            username: Some("bot".into()),
            from: "a@b.test".into(),
            ca_file: None,
        };
        let to = parse_recipients(&["x@y.test".into()]).unwrap();
        let m = build_message(&config.from, &to, &email()).unwrap();
        assert!(matches!(send(&config, None, &m), Err(Error::MissingPassword { .. })));
    }
}
