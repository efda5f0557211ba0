//! The interactive SQL shell: `bedrock-spend sql` on a terminal. Multi-line statements end with `;`, `\d` lists
//! tables (`\d NAME` its columns), Ctrl-C cancels the running statement (or the line being typed) and returns to
//! the prompt, Ctrl-D or `\q` quits. History is saved after every statement, so it survives however the shell
//! ends.

use std::sync::Arc;

use anyhow::{Context, Result};
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use super::output::{self, PrintFormat};
use crate::error::Outcome;
use crate::query::{Params, RunOptions, Session};

/// Run the shell until `\q` or end of input.
pub fn run(session: &Session, allow_write: bool) -> Result<Outcome> {
    let rt = super::runtime()?;
    let mut editor = DefaultEditor::new().context("starting the line editor")?;
    let history = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".bedrock_spend_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!(
        "bedrock-spend SQL over {} (\\d lists tables, \\q or Ctrl-D quits, Ctrl-C cancels; end statements with ;)",
        session.warehouse().display()
    );
    // SIGINT is watched on a thread of its own: the runtime's workers can all be busy with a statement, and a
    // signal is only seen by a runtime whose driver gets to run.
    let interrupts = Arc::new(tokio::sync::Notify::new());
    {
        let interrupts = interrupts.clone();
        let watcher = tokio::runtime::Builder::new_current_thread().enable_all().build().context("watching Ctrl-C")?;
        // Registered here, before the first prompt, so a Ctrl-C can never find the default handler (which kills).
        let mut sigint = {
            let _entered = watcher.enter();
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).context("watching Ctrl-C")?
        };
        std::thread::spawn(move || {
            watcher.block_on(async move {
                while sigint.recv().await.is_some() {
                    interrupts.notify_waiters();
                }
            })
        });
    }
    let mut statement = String::new();
    loop {
        let prompt = if statement.is_empty() { "bedrock-spend> " } else { "            -> " };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                statement.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("reading a line"),
        };
        let trimmed = line.trim();
        let request = if statement.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            match meta_command(trimmed) {
                Some(request) => request,
                None if trimmed == "\\q" => break,
                None => {
                    eprintln!("unknown command {trimmed}: try \\d, \\d NAME or \\q");
                    continue;
                }
            }
        } else {
            statement.push_str(&line);
            statement.push('\n');
            if !trimmed.ends_with(';') {
                continue;
            }
            let sql = std::mem::take(&mut statement);
            let _ = editor.add_history_entry(sql.trim());
            Request::Sql(sql.trim().trim_end_matches(';').to_string())
        };
        if let Some(h) = &history {
            let _ = editor.save_history(h);
        }
        // While a statement runs the terminal is not in raw mode, so Ctrl-C arrives as SIGINT: it cancels the
        // statement instead of killing the shell. Each statement runs on a runtime of its own: on Ctrl-C its task is
        // aborted and the runtime let go, so the prompt comes back at once even when an operator is deep in work
        // that does not yield (it stops at its next yield point; the next statement does not wait for it).
        let statement_rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting a statement's runtime")?;
        let task = statement_rt.spawn({
            let (session, request) = (session.clone(), request.clone());
            async move { execute(&session, &request, allow_write).await }
        });
        let cancelled = rt.block_on(async {
            let abort = task.abort_handle();
            tokio::select! {
                result = task => {
                    match result {
                        Ok(Err(e)) => eprintln!("error: {e:#}"),
                        Err(e) if e.is_panic() => eprintln!("error: the statement failed unexpectedly"),
                        _ => {}
                    }
                    false
                }
                _ = interrupts.notified() => {
                    abort.abort();
                    eprintln!("cancelled");
                    true
                }
            }
        });
        if cancelled {
            statement_rt.shutdown_background();
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(Outcome::Ok)
}

/// What one line of the shell asks for: a statement as typed, or a named query (the meta-commands).
#[derive(Debug, Clone, PartialEq)]
enum Request {
    Sql(String),
    Named(&'static str, Params),
}

/// `\d` and `\d NAME`: the named queries `warehouse_tables` and `table_columns` (queries/).
fn meta_command(command: &str) -> Option<Request> {
    let mut parts = command.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("\\d"), None) => Some(Request::Named("warehouse_tables", Params::new())),
        (Some("\\d"), Some(name)) => Some(Request::Named("table_columns", Params::new().text("table", name))),
        _ => None,
    }
}

async fn execute(session: &Session, request: &Request, allow_write: bool) -> Result<()> {
    let statement = match request {
        Request::Sql(sql) => session.statement(sql, &Params::new(), RunOptions { allow_write }).await?,
        Request::Named(name, params) => session.named(name, params).await?,
    };
    let schema = statement.schema();
    let mut stream = statement.stream().await?;
    let out = std::io::BufWriter::new(std::io::stdout());
    let mut writer = output::ResultWriter::new(out, PrintFormat::Table, output::DEFAULT_MAX_ROWS);
    let mut written = output::Written::default();
    while let Some(batch) = stream.next().await {
        writer.write(&batch?, &mut written)?;
    }
    writer.finish(&schema, written)?;
    Ok(())
}
