//! Where things are in a scenario (or electorate) file: a problem with its file, line and
//! column, and the locator that turns byte offsets into lines and columns. The bottom layer of
//! the crate: every module that reports problems uses it, and it uses none of them.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_spanned::Spanned;

/// One problem in a scenario file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// Every problem found in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Turns byte offsets into line and column numbers.
#[derive(Debug, Clone)]
pub struct Locator {
    path: PathBuf,
    line_starts: Vec<usize>,
    text: String,
}

impl Locator {
    /// A locator for `text`, read from `path`.
    pub fn new(path: &Path, text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            path: path.to_path_buf(),
            line_starts,
            text: text.to_string(),
        }
    }

    /// A problem at byte `offset`.
    pub fn problem(&self, offset: usize, message: impl Into<String>) -> Problem {
        let line = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .max(1);
        let start = self.line_starts[line - 1];
        let column = self
            .text
            .get(start..offset.min(self.text.len()))
            .map(|s| s.chars().count())
            .unwrap_or(0)
            + 1;
        Problem {
            path: self.path.clone(),
            line,
            column,
            message: message.into(),
        }
    }

    /// The file the text was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A problem at the start of 1-based `line`.
    pub fn line_problem(&self, line: usize, message: impl Into<String>) -> Problem {
        Problem {
            path: self.path.clone(),
            line,
            column: 1,
            message: message.into(),
        }
    }

    /// A problem at `spanned`'s start.
    pub fn at<T>(&self, spanned: &Spanned<T>, message: impl Into<String>) -> Problem {
        self.problem(spanned.span().start, message)
    }
}
