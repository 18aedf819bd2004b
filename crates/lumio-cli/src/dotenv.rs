//! A `.env` parser for `lumio env import`. It runs in the CLI so `$VAR` expansion sees the
//! user's environment, never the server's. Errors name the line and never quote a value.
//!
//! Accepted: blank lines and `# comments`; `NAME=value`, optionally after `export `;
//! unquoted values (trimmed, ` #` starts a comment); `'single'` quotes (literal);
//! `"double"` quotes (`\n \r \t \" \\ \$` escapes). Quoted values may span lines.
//! `$NAME` and `${NAME}` expand from names earlier in the file, then the environment, in
//! unquoted and double-quoted values; an unset name is an error rather than a silent "",
//! so a password containing `$` is never mangled quietly.
//!
//! Why not `dotenvy`: it turns an unset `$NAME` into "" without a word (`A=pa$word`
//! imports `pa`: a secret silently corrupted), its parse errors quote the offending line
//! (which may hold a value) and carry no line number, and it cannot refuse a name set twice.

use std::collections::HashMap;
use std::fmt;

use lumio_core::SecretName;
use zeroize::Zeroizing;

/// One `NAME=value` pair.
pub struct Entry {
    pub name: SecretName,
    pub value: Zeroizing<String>,
}

/// Why a `.env` text was refused: a line number and what to fix, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for DotenvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for DotenvError {}

/// Parses `text`; `env` looks up variables that are not defined earlier in the file.
pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Vec<Entry>, DotenvError> {
    let text = Zeroizing::new(text.trim_start_matches('\u{feff}').replace("\r\n", "\n"));
    let mut cur = Cursor {
        text: &text,
        pos: 0,
        line: 1,
    };
    let mut entries: Vec<Entry> = Vec::new();
    let mut defined: HashMap<String, usize> = HashMap::new();
    loop {
        while cur.peek().is_some_and(char::is_whitespace) {
            cur.bump();
        }
        let Some(first) = cur.peek() else { break };
        if first == '#' {
            cur.skip_line();
            continue;
        }
        let line = cur.line;
        let fail = |message: &str| DotenvError {
            line,
            message: message.to_owned(),
        };
        let mut key = cur.word();
        if key == "export" && cur.inline_space() > 0 && cur.peek() != Some('=') {
            key = cur.word();
        }
        cur.inline_space();
        if cur.bump() != Some('=') {
            // The rest of the line may be a value pasted without a name: not echoed.
            return Err(fail("expected NAME=VALUE"));
        }
        let name = SecretName::parse(key).map_err(|err| fail(&err.to_string()))?;
        if let Some(first_line) = defined.insert(name.to_string(), line) {
            return Err(fail(&format!("{name} is already set on line {first_line}")));
        }
        let spaced = cur.inline_space() > 0;
        let lookup = |var: &str| {
            entries
                .iter()
                .find(|e| e.name.as_str() == var)
                .map(|e| e.value.to_string())
                .or_else(|| env(var))
        };
        let value = match cur.peek() {
            Some('\'') => cur.single_quoted(line)?,
            Some('"') => cur.double_quoted(line, &lookup)?,
            Some('#') if spaced => Zeroizing::new(String::new()),
            _ => cur.unquoted(&lookup)?,
        };
        cur.inline_space();
        match cur.peek() {
            Some('#') => cur.skip_line(),
            None | Some('\n') => {}
            Some(_) => {
                return Err(DotenvError {
                    line: cur.line,
                    message: "unexpected text after the closing quote".into(),
                })
            }
        }
        entries.push(Entry { name, value });
    }
    Ok(entries)
}

/// A position in the text, counting lines for error messages.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// Skips spaces and tabs; returns how many.
    fn inline_space(&mut self) -> usize {
        let mut n = 0;
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
            n += 1;
        }
        n
    }

    /// Skips to the end of the line, leaving the line break.
    fn skip_line(&mut self) {
        while self.peek().is_some_and(|c| c != '\n') {
            self.bump();
        }
    }

    /// Everything up to whitespace or `=`.
    fn word(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(|c| !c.is_whitespace() && c != '=') {
            self.bump();
        }
        &self.text[start..self.pos]
    }

    fn single_quoted(&mut self, line: usize) -> Result<Zeroizing<String>, DotenvError> {
        self.bump();
        let mut out = Zeroizing::new(String::new());
        loop {
            match self.bump() {
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
                None => return Err(unclosed(line, '\'')),
            }
        }
    }

    fn double_quoted(
        &mut self,
        line: usize,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Zeroizing<String>, DotenvError> {
        self.bump();
        let mut out = Zeroizing::new(String::new());
        loop {
            match self.bump() {
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some(c @ ('"' | '\\' | '$')) => out.push(c),
                    Some(c) => {
                        out.push('\\');
                        out.push(c);
                    }
                    None => return Err(unclosed(line, '"')),
                },
                Some('$') => self.expand(&mut out, lookup)?,
                Some(c) => out.push(c),
                None => return Err(unclosed(line, '"')),
            }
        }
    }

    fn unquoted(
        &mut self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Zeroizing<String>, DotenvError> {
        let mut out = Zeroizing::new(String::new());
        while let Some(c) = self.peek().filter(|&c| c != '\n') {
            if c == '#' && out.ends_with([' ', '\t']) {
                break; // ` #` starts a comment; the caller skips it.
            }
            self.bump();
            match c {
                '\\' if self.peek() == Some('$') => out.push(self.bump().unwrap_or('$')),
                '$' => self.expand(&mut out, lookup)?,
                c => out.push(c),
            }
        }
        let kept = out.trim_end_matches([' ', '\t']).len();
        out.truncate(kept);
        Ok(out)
    }

    /// After a `$`: appends `$NAME` / `${NAME}`'s value, or a lone `$` as itself.
    fn expand(
        &mut self,
        out: &mut String,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), DotenvError> {
        let braced = self.peek() == Some('{');
        if braced {
            self.bump();
        }
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.bump();
        }
        let var = &self.text[start..self.pos];
        let line = self.line;
        let fail = |message: String| DotenvError { line, message };
        if braced && (var.is_empty() || self.bump() != Some('}')) {
            return Err(fail(
                "`${` must be followed by a variable name and `}`".into(),
            ));
        }
        if var.is_empty() || var.starts_with(|c: char| c.is_ascii_digit()) {
            out.push('$');
            out.push_str(var);
            return Ok(());
        }
        let value = Zeroizing::new(lookup(var).ok_or_else(|| {
            fail(format!(
                "${var} is not set in this file or in your environment; write \\$ or use \
                 single quotes for a literal $"
            ))
        })?);
        out.push_str(&value);
        Ok(())
    }
}

fn unclosed(line: usize, quote: char) -> DotenvError {
    DotenvError {
        line,
        message: format!("the value opened with {quote} on this line is never closed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Result<Vec<(String, String)>, DotenvError> {
        let env = |var: &str| (var == "HOME_DIR").then(|| "/home/me".to_owned());
        Ok(parse(text, env)?
            .into_iter()
            .map(|e| (e.name.to_string(), e.value.to_string()))
            .collect())
    }

    fn err(text: &str) -> String {
        pairs(text).expect_err("should fail").to_string()
    }

    #[test]
    fn the_usual_forms() {
        let text = "\u{feff}# comment\n\nexport A=1\nB = \"two words\" # note\r\n\
                    C='no $expansion \\n'\nD=unquoted value  # note\nE=\nF= #only comment\n\
                    G=a#b\nexport=x\nH=\"line1\nline2\\tX\"\nI=\"$HOME_DIR/${A}\\$\"\nJ=$ 1 $1\n";
        let want = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "no $expansion \\n"),
            ("D", "unquoted value"),
            ("E", ""),
            ("F", ""),
            ("G", "a#b"),
            ("export", "x"),
            ("H", "line1\nline2\tX"),
            ("I", "/home/me/1$"),
            ("J", "$ 1 $1"),
        ];
        let got = pairs(text).unwrap();
        let got: Vec<(&str, &str)> = got.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn multiline_pem() {
        let pem = "-----BEGIN KEY-----\nabc\n-----END KEY-----";
        assert_eq!(
            pairs(&format!("KEY=\"{pem}\"\nNEXT='x'\n")).unwrap(),
            [("KEY".into(), pem.into()), ("NEXT".into(), "x".into())]
        );
    }

    #[test]
    fn errors_name_the_line_and_never_the_value() {
        assert_eq!(err("A=1\nsk-secret-value\n"), "line 2: expected NAME=VALUE");
        assert!(err("A=1\n\nB=\"sk-unterminated\nC=2\n").starts_with("line 3: "));
        assert!(err("A='x' sk-trailing\n").starts_with("line 1: unexpected text"));
        assert!(err("A=1\nA=2\n").contains("line 2: A is already set on line 1"));
        assert!(err("1A=x\n").starts_with("line 1: secret name"));
        assert!(err("A=pa$word\n").contains("$word is not set"));
        assert!(err("A=${oops\n").contains("${"));
        for text in [
            "A=1\nsk-secret-value\n",
            "B=\"sk-secret-value\n",
            "A='x' sk-secret-value\n",
            "A=sk-secret-value$NOPE",
        ] {
            assert!(!err(text).contains("sk-secret-value"), "{}", err(text));
        }
    }

    #[test]
    fn names_earlier_in_the_file_win_over_the_environment() {
        let got = pairs("HOME_DIR=/override\nP=$HOME_DIR/x\n").unwrap();
        assert_eq!(got[1].1, "/override/x");
    }
}
