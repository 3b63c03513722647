//! The static token file of `--token-auth-file`, in kube-apiserver's CSV format: one user a line,
//! `token,user,uid[,"group1,group2"]`. Fields may be quoted (a quoted `""` is a quote), leading
//! spaces are trimmed, empty lines are skipped. A record with fewer than three fields is an error; an
//! empty token is skipped and a repeated token replaced by the later line, each with a warning, as
//! upstream does.

use std::collections::HashMap;
use std::path::Path;

use async_trait::async_trait;

use super::{TokenAuthenticator, TokenOutcome};
use crate::auth::UserInfo;

/// Why a token file could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenFileError {
    /// The file could not be read.
    #[error("failed to read token file '{path}': {message}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// A record has fewer than three columns.
    #[error(
        "token file '{path}' must have at least 3 columns (token, user name, user uid), found {found}"
    )]
    Columns {
        /// The file.
        path: String,
        /// How many columns the record had.
        found: usize,
    },
    /// A quoted field is not closed, or a quote stands inside an unquoted field.
    #[error("token file '{path}': malformed CSV in record {record}")]
    Csv {
        /// The file.
        path: String,
        /// The record number (from 1).
        record: usize,
    },
}

/// The users of a token file, by token.
#[derive(Clone, Debug, Default)]
pub struct TokenFile {
    users: HashMap<String, UserInfo>,
}

impl TokenFile {
    /// Reads and parses the file at `path`.
    pub fn read(path: &Path) -> Result<TokenFile, TokenFileError> {
        let text = std::fs::read_to_string(path).map_err(|error| TokenFileError::Read {
            path: path.display().to_string(),
            message: error.to_string(),
        })?;
        TokenFile::parse(&text, &path.display().to_string())
    }

    /// Parses the file's text; `path` names it in errors and warnings.
    pub fn parse(text: &str, path: &str) -> Result<TokenFile, TokenFileError> {
        let mut users = HashMap::new();
        for (index, record) in records(text, path)?.into_iter().enumerate() {
            let number = index + 1;
            if record.len() < 3 {
                return Err(TokenFileError::Columns {
                    path: path.to_owned(),
                    found: record.len(),
                });
            }
            let token = record[0].clone();
            if token.is_empty() {
                tracing::warn!(path, record = number, "empty token in token file, skipped");
                continue;
            }
            let groups = record
                .get(3)
                .map(|groups| {
                    groups
                        .split(',')
                        .map(str::trim)
                        .filter(|group| !group.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let user = UserInfo {
                name: record[1].clone(),
                uid: record[2].clone(),
                groups,
                ..UserInfo::default()
            };
            if users.insert(token, user).is_some() {
                tracing::warn!(
                    path,
                    record = number,
                    "duplicate token in token file, the later one wins"
                );
            }
        }
        Ok(TokenFile { users })
    }

    /// How many tokens the file holds.
    pub fn token_count(&self) -> usize {
        self.users.len()
    }
}

#[async_trait]
impl TokenAuthenticator for TokenFile {
    async fn authenticate_token(&self, token: &str, _audiences: &[String]) -> TokenOutcome {
        match self.users.get(token) {
            Some(user) => TokenOutcome::Authenticated {
                user: user.clone(),
                audiences: Vec::new(),
            },
            None => TokenOutcome::NotMine,
        }
    }
}

/// Splits CSV text into records of fields (Go's `encoding/csv` with `TrimLeadingSpace` and any
/// number of fields per record).
fn records(text: &str, path: &str) -> Result<Vec<Vec<String>>, TokenFileError> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let malformed = |record: usize| TokenFileError::Csv {
        path: path.to_owned(),
        record,
    };
    while chars.peek().is_some() {
        let mut record = Vec::new();
        let mut field = String::new();
        let mut at_line_start = true;
        loop {
            // Start of a field: skip leading spaces.
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(c) => field.push(c),
                        None => return Err(malformed(records.len() + 1)),
                    }
                }
            }
            let mut end_of_line = false;
            loop {
                match chars.next() {
                    Some(',') => break,
                    Some('\n') | None => {
                        end_of_line = true;
                        break;
                    }
                    Some('\r') if chars.peek() == Some(&'\n') => {}
                    Some('"') => return Err(malformed(records.len() + 1)),
                    Some(c) => {
                        at_line_start = false;
                        field.push(c);
                    }
                }
            }
            if !field.is_empty() {
                at_line_start = false;
            }
            record.push(std::mem::take(&mut field));
            if end_of_line {
                break;
            }
            at_line_start = false;
        }
        // An empty line is no record.
        if !(at_line_start && record.len() == 1 && record[0].is_empty()) {
            records.push(record);
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &[(&str, &str, &str, &[&str])]) {
        let file = TokenFile::parse(text, "tokens.csv").expect("parses");
        assert_eq!(file.token_count(), expected.len(), "{text:?}");
        for (token, name, uid, groups) in expected {
            let user = file.users.get(*token).expect(token);
            assert_eq!(
                (user.name.as_str(), user.uid.as_str(), user.groups.clone()),
                (
                    *name,
                    *uid,
                    groups.iter().map(|g| (*g).to_owned()).collect()
                ),
                "{token}"
            );
        }
    }

    #[test]
    fn upstream_format() {
        check(
            "token1,alice,1001,\"dev,ops\"\ntoken2,bob,1002\n\n token3, carol ,1003, \"admins\"\r\n",
            &[
                ("token1", "alice", "1001", &["dev", "ops"]),
                ("token2", "bob", "1002", &[]),
                ("token3", "carol ", "1003", &["admins"]),
            ],
        );
        check(
            "\"quoted\"\"token\",u,1,\n",
            &[("quoted\"token", "u", "1", &[])],
        );
        check("t,u,1,\" a , ,b \"", &[("t", "u", "1", &["a", "b"])]);
    }

    #[test]
    fn empty_and_duplicate_tokens() {
        check(
            ",nobody,0\nt,first,1\nt,second,2\n",
            &[("t", "second", "2", &[])],
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            TokenFile::parse("t,u\n", "tokens.csv").err(),
            Some(TokenFileError::Columns {
                path: "tokens.csv".into(),
                found: 2
            })
        );
        assert!(TokenFile::parse("t,u,1,\"open", "f").is_err());
        assert!(TokenFile::parse("t,u\"x,1", "f").is_err());
        assert_eq!(
            TokenFileError::Columns {
                path: "/etc/tokens.csv".into(),
                found: 1
            }
            .to_string(),
            "token file '/etc/tokens.csv' must have at least 3 columns (token, user name, user uid), found 1"
        );
    }
}
