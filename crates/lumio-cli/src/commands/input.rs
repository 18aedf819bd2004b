//! Reading secret material from standard input or a file. What is read is held in
//! wiping buffers and never echoed, not even in an error.

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::Context;
use lumio_core::{SecretName, SecretValue};
use zeroize::Zeroizing;

use crate::error::CliError;

/// A secret's value from standard input: a hidden prompt on a terminal, otherwise all of
/// it (multi-line PEM keys included) minus exactly one trailing line break.
pub fn secret_value(name: &SecretName) -> anyhow::Result<SecretValue> {
    let bytes = if std::io::stdin().is_terminal() {
        let typed = rpassword::prompt_password(format!("Value for {name} (input hidden): "))
            .context("cannot read the value from the terminal")?;
        Zeroizing::new(typed.into_bytes())
    } else {
        let mut bytes = Zeroizing::new(Vec::new());
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read the value from standard input")?;
        bytes
    };
    value_from_bytes(name, bytes)
}

/// A secret's value from a file (`--from-file`), read as standard input would be.
pub fn secret_value_from_file(name: &SecretName, file: &Path) -> anyhow::Result<SecretValue> {
    let bytes = std::fs::read(file).map_err(|err| {
        CliError::new(format!("cannot read {}: {err}", file.display()))
            .with_hint("give --from-file the path of a file holding the value")
    })?;
    value_from_bytes(name, Zeroizing::new(bytes))
}

/// The value minus one trailing line break; refused when nothing is left.
fn value_from_bytes(
    name: &SecretName,
    mut bytes: Zeroizing<Vec<u8>>,
) -> anyhow::Result<SecretValue> {
    strip_one_line_break(&mut bytes);
    if bytes.is_empty() {
        // Most likely an unset variable in `echo "$X" | lumio env set …`; refusing keeps
        // such a slip from blanking a working secret.
        return Err(
            CliError::new(format!("no value given for {name}; nothing was set"))
                .with_hint(format!(
                    "pipe the value on standard input, or pass it as an argument: \
                 `lumio env set {name} VALUE`"
                ))
                .into(),
        );
    }
    SecretValue::from_bytes(std::mem::take(&mut *bytes))
        .map_err(|err| CliError::new(format!("{name}: {err}")).into())
}

/// A value given as an argument, checked against the same limits.
pub fn secret_value_arg(name: &SecretName, value: String) -> anyhow::Result<SecretValue> {
    SecretValue::new(value).map_err(|err| CliError::usage(format!("{name}: {err}")).into())
}

/// Drops one trailing `\n` or `\r\n` (what `echo` or a file's last line adds), nothing more.
fn strip_one_line_break(bytes: &mut Vec<u8>) {
    if bytes.ends_with(b"\r\n") {
        bytes.truncate(bytes.len() - 2);
    } else if bytes.ends_with(b"\n") {
        bytes.truncate(bytes.len() - 1);
    }
}

/// The text of a `.env` file, or of standard input for `-`.
pub fn dotenv_text(file: &Path) -> anyhow::Result<Zeroizing<String>> {
    let mut text = Zeroizing::new(String::new());
    if file == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the .env text from standard input")?;
    } else {
        let mut opened = std::fs::File::open(file).map_err(|err| {
            CliError::new(format!("cannot open {}: {err}", file.display()))
                .with_hint("give the path of a .env file, or - to read standard input")
        })?;
        opened
            .read_to_string(&mut text)
            .with_context(|| format!("cannot read {}", file.display()))?;
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_exactly_one_line_break() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"abc\n", b"abc"),
            (b"abc\r\n", b"abc"),
            (b"abc\n\n", b"abc\n"),
            (b"abc", b"abc"),
            (b" abc \n", b" abc "),
            (
                b"-----BEGIN-----\nxyz\n-----END-----\n",
                b"-----BEGIN-----\nxyz\n-----END-----",
            ),
            (b"abc\r", b"abc\r"),
        ];
        for (input, want) in cases {
            let mut bytes = input.to_vec();
            strip_one_line_break(&mut bytes);
            assert_eq!(bytes, want, "{:?}", String::from_utf8_lossy(input));
        }
    }
}
