//! Where the check's secrets come from: the terminal without echo, or one per line from stdin
//! (`--stdin`) — never an argument or the environment, which other users and logs can read.

use std::io::BufRead;

use zeroize::Zeroizing;

use crate::error::CliError;

pub enum SecretSource {
    /// Prompt on the terminal, echo off.
    Terminal,
    /// One secret per line on standard input, in the order asked.
    Stdin,
}

impl SecretSource {
    /// Reads one secret; `what` names it in the prompt ("照合番号B", "PIN"…).
    pub fn read(&self, what: &str) -> Result<Zeroizing<String>, CliError> {
        let text = match self {
            SecretSource::Terminal => {
                rpassword::prompt_password(format!("{what}: ")).map_err(|e| {
                    CliError::Io(format!(
                        "cannot read {what} from the terminal ({e}); use --stdin to pipe it"
                    ))
                })?
            }
            SecretSource::Stdin => {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .map_err(|e| CliError::Io(format!("cannot read {what} from stdin: {e}")))?;
                if line.is_empty() {
                    return Err(CliError::Usage(format!(
                        "stdin ended before {what} was given"
                    )));
                }
                line
            }
        };
        let secret = Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_owned());
        let mut text = text;
        zeroize::Zeroize::zeroize(&mut text);
        Ok(secret)
    }

    /// A line of ordinary (non-secret) input, such as an item id.
    pub fn read_line(&self, what: &str) -> Result<String, CliError> {
        if let SecretSource::Terminal = self {
            eprint!("{what}: ");
        }
        let mut line = String::new();
        let read = std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::Io(format!("cannot read {what}: {e}")))?;
        if read == 0 {
            return Err(CliError::Usage(format!(
                "input ended before {what} was given"
            )));
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }

    /// A yes/no question (the courier's face confirmation) on the same channel.
    pub fn confirm(&self, question: &str) -> Result<bool, CliError> {
        eprint!("{question} [y/N] ");
        let mut line = String::new();
        let read = match self {
            SecretSource::Stdin => std::io::stdin().lock().read_line(&mut line),
            SecretSource::Terminal => std::io::stdin().read_line(&mut line),
        };
        read.map_err(|e| CliError::Io(format!("cannot read the answer: {e}")))?;
        Ok(matches!(line.trim(), "y" | "Y" | "yes" | "はい"))
    }
}
