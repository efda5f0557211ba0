//! The `bedrock-spend` binary: parse arguments, run, turn the result into an exit code.
//! 0 = everything done, 1 = finished but some records or objects failed, 2 = fatal error, 3 = an email was not
//! delivered (the report itself was built).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = bedrock_spend::cli::Cli::parse();
    match bedrock_spend::cli::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("bedrock-spend: {}", bedrock_spend::error::chain_text(err.as_ref()));
            if err.chain().any(|e| e.downcast_ref::<bedrock_spend::notify::Error>().is_some()) {
                return ExitCode::from(bedrock_spend::notify::Error::EXIT_CODE);
            }
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
