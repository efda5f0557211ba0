//! The interactive SQL shell: `bedrock-spend sql` on a terminal. Multi-line statements end with `;`,
//! history persists across sessions, and `\d` lists tables (`\d NAME` its columns).

use anyhow::{Context, Result};
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use super::Settings;
use super::output::{self, PrintFormat};
use crate::error::Outcome;
use crate::query;

/// Run the shell until `\q` or end of input.
pub fn run(settings: &Settings, allow_write: bool) -> Result<Outcome> {
    let rt = super::runtime()?;
    let ctx = rt.block_on(query::context::session(&settings.warehouse, &settings.prices))?;
    let mut editor = DefaultEditor::new().context("starting the line editor")?;
    let history = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".bedrock_spend_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!(
        "bedrock-spend SQL over {} (\\d lists tables, \\q quits; end statements with ;)",
        settings.warehouse.display()
    );
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
        if statement.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            match meta_command(trimmed) {
                Some(sql) => execute(rt, &ctx, &sql, allow_write),
                None if trimmed == "\\q" => break,
                None => eprintln!("unknown command {trimmed}: try \\d, \\d NAME or \\q"),
            }
            continue;
        }
        statement.push_str(&line);
        statement.push('\n');
        if trimmed.ends_with(';') {
            let sql = std::mem::take(&mut statement);
            let _ = editor.add_history_entry(sql.trim());
            execute(rt, &ctx, sql.trim().trim_end_matches(';'), allow_write);
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(Outcome::Ok)
}

/// `\d` and `\d NAME` as SQL over the information schema.
fn meta_command(command: &str) -> Option<String> {
    let mut parts = command.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("\\d"), None) => Some(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"
                .to_string(),
        ),
        (Some("\\d"), Some(name)) => Some(format!(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = '{}' ORDER BY ordinal_position",
            name.replace('\'', "''")
        )),
        _ => None,
    }
}

fn execute(rt: &tokio::runtime::Runtime, ctx: &datafusion::prelude::SessionContext, sql: &str, allow_write: bool) {
    let result = rt.block_on(async {
        let df = query::plan(ctx, sql, &[], query::RunOptions { allow_write }).await?;
        df.collect().await.map_err(|source| query::Error::Execute { sql: sql.to_string(), source })
    });
    match result {
        Ok(batches) => {
            if let Err(e) = output::print_batches(&mut std::io::stdout().lock(), &batches, PrintFormat::Table) {
                eprintln!("error: {e}");
            }
        }
        Err(e) => eprintln!("error: {:#}", anyhow::Error::from(e)),
    }
}
