//! LTP runtest files, and the filters that pick entries out of them.
//!
//! A runtest file (`$LTPROOT/runtest/syscalls`, ...) has one test per line: a name, then the
//! command line, which LTP's runners hand to `sh -c`. `#` starts a comment line; blank lines
//! are ignored.

use std::fmt;
use std::path::{Path, PathBuf};

use regex::Regex;

/// One test of a runtest file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The test's name, unique within the file (first word of the line).
    pub name: String,
    /// The command line to give `sh -c` (the rest of the line, trimmed).
    pub command: String,
    /// 1-based line number in the runtest file.
    pub line: usize,
}

impl Entry {
    /// The program the command runs: its first word.
    pub fn program(&self) -> &str {
        self.command.split_whitespace().next().unwrap_or("")
    }
}

/// A malformed runtest line.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Parses the text of a runtest file.
///
/// Every non-comment line must hold a name and a command. The name keys the logs, the results
/// and the expected list, so a name seen again (a few runtest files repeat one) is made unique
/// by a suffix: the second `rwtest01` becomes `rwtest01.2`.
pub fn parse(text: &str) -> Result<Vec<Entry>, ParseError> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (name, command) = match trimmed.split_once(char::is_whitespace) {
            Some((name, rest)) if !rest.trim().is_empty() => (name, rest.trim()),
            _ => {
                return Err(ParseError {
                    line,
                    message: format!("test {trimmed:?} has no command"),
                })
            }
        };
        let mut unique = name.to_string();
        let mut n = 1;
        while !seen.insert(unique.clone()) {
            n += 1;
            unique = format!("{name}.{n}");
        }
        entries.push(Entry {
            name: unique,
            command: command.to_string(),
            line,
        });
    }
    Ok(entries)
}

/// Where the runtest file named on the command line lives: a path (anything with a `/`, or an
/// existing file), else a name under `$LTPROOT/runtest/`.
pub fn locate(ltproot: &Path, name_or_path: &str) -> PathBuf {
    let as_path = Path::new(name_or_path);
    if name_or_path.contains('/') || as_path.is_file() {
        as_path.to_path_buf()
    } else {
        ltproot.join("runtest").join(name_or_path)
    }
}

/// A test-name pattern: a shell glob matching the whole name (`fork*`, `mmap0[1-3]`), or a
/// regular expression searched in the name (`^clock_.*`, `fork|vfork`).
///
/// `re:` and `glob:` prefixes force the kind; otherwise a pattern holding any of
/// `^ $ ( ) | + \ . { }` is a regex and anything else a glob.
#[derive(Clone, Debug)]
pub struct Pattern {
    source: String,
    regex: Regex,
}

impl Pattern {
    pub fn new(pattern: &str) -> Result<Pattern, String> {
        let regex_src = if let Some(re) = pattern.strip_prefix("re:") {
            re.to_string()
        } else if let Some(glob) = pattern.strip_prefix("glob:") {
            glob_to_regex(glob)
        } else if pattern.contains(['^', '$', '(', ')', '|', '+', '\\', '.', '{', '}']) {
            pattern.to_string()
        } else {
            glob_to_regex(pattern)
        };
        let regex = Regex::new(&regex_src).map_err(|e| {
            // The regex crate's message spans lines; its last line says what is wrong.
            let text = e.to_string();
            let last = text.lines().last().unwrap_or("").trim();
            format!(
                "bad pattern {pattern:?}: {}",
                last.trim_start_matches("error: ")
            )
        })?;
        Ok(Pattern {
            source: pattern.to_string(),
            regex,
        })
    }

    pub fn matches(&self, name: &str) -> bool {
        self.regex.is_match(name)
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// Translates a shell glob (`*`, `?`, `[...]`) into an anchored regex.
fn glob_to_regex(glob: &str) -> String {
    let mut out = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                out.push('[');
                if chars.peek() == Some(&'!') {
                    chars.next();
                    out.push('^');
                }
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    if c == '\\' || c == '[' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push(']');
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push('$');
    out
}

/// Reads a skip list: one test name or glob per line; `#` starts a comment (also after a name).
pub fn parse_skip_list(text: &str) -> Result<Vec<Pattern>, String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| Pattern::new(&format!("glob:{l}")))
        .collect()
}

/// True if `name` matches any of `patterns`.
pub fn any_match(patterns: &[Pattern], name: &str) -> bool {
    patterns.iter().any(|p| p.matches(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_comments_and_blanks() {
        let text = "#DESCRIPTION:Kernel system calls\n\
                    abort01 abort01\n\
                    \n\
                    \t# indented comment\n\
                    accept01  accept01 -i 2\n\
                    fcntl27_64 fcntl27_64\n\
                    pipeio_1 pipeio -T pipeio_1 -c 5 -s 4090 -i 100 -b -f x80\n\
                    shell1 echo a | grep -q a && true\n";
        let e = parse(text).unwrap();
        let names: Vec<_> = e.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["abort01", "accept01", "fcntl27_64", "pipeio_1", "shell1"]
        );
        assert_eq!(e[1].command, "accept01 -i 2");
        assert_eq!(e[1].line, 5);
        assert_eq!(e[3].program(), "pipeio");
        assert_eq!(e[4].command, "echo a | grep -q a && true");
    }

    #[test]
    fn rejects_name_without_command() {
        let err = parse("ok ok\nlonely\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.to_string().contains("no command"), "{err}");
    }

    #[test]
    fn repeated_names_get_a_suffix() {
        let e = parse("a a\nb b\na x\na y\n").unwrap();
        let names: Vec<_> = e.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "a.2", "a.3"]);
        assert_eq!(e[2].command, "x");
    }

    #[test]
    fn empty_file_is_empty() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("# only\n\n").unwrap(), vec![]);
    }

    #[test]
    fn globs_match_whole_names() {
        let p = Pattern::new("clock_settime*").unwrap();
        assert!(p.matches("clock_settime01"));
        assert!(!p.matches("xclock_settime01"));
        let p = Pattern::new("mmap0[1-3]").unwrap();
        assert!(p.matches("mmap02") && !p.matches("mmap04") && !p.matches("mmap021"));
        let p = Pattern::new("fork0?").unwrap();
        assert!(p.matches("fork01") && !p.matches("fork1"));
        let p = Pattern::new("glob:a[!b]c").unwrap();
        assert!(p.matches("axc") && !p.matches("abc"));
        assert!(Pattern::new("fork01").unwrap().matches("fork01"));
        assert!(!Pattern::new("fork01").unwrap().matches("vfork01"));
    }

    #[test]
    fn regexes_search() {
        let p = Pattern::new("^clock_.*").unwrap();
        assert!(p.matches("clock_gettime01") && !p.matches("gettimeofday01"));
        let p = Pattern::new("fork|exec").unwrap();
        assert!(p.matches("vfork01") && p.matches("execve01") && !p.matches("open01"));
        let p = Pattern::new("re:open").unwrap();
        assert!(p.matches("openat01"));
        assert!(Pattern::new("re:(").is_err());
    }

    #[test]
    fn skip_list() {
        let pats = parse_skip_list("# flaky\nfork13 # slow\n\nmsgstress*\n").unwrap();
        assert_eq!(pats.len(), 2);
        assert!(any_match(&pats, "fork13"));
        assert!(any_match(&pats, "msgstress04"));
        assert!(!any_match(&pats, "fork131"));
    }

    #[test]
    fn locate_by_name_or_path() {
        let root = Path::new("/opt/ltp");
        assert_eq!(
            locate(root, "syscalls"),
            Path::new("/opt/ltp/runtest/syscalls")
        );
        assert_eq!(locate(root, "./mine"), Path::new("./mine"));
        assert_eq!(locate(root, "/x/y"), Path::new("/x/y"));
    }
}
