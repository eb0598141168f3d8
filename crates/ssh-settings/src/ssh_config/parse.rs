//! The text of an OpenSSH client configuration file: lines of a keyword
//! and its arguments, patterns, and `%` tokens. Functions of strings.

/// One directive: its keyword (lower case), its arguments, its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directive {
    /// The keyword as written (for messages).
    pub(crate) keyword: String,
    /// The arguments, quotes removed.
    pub(crate) args: Vec<String>,
    /// The line (1-based).
    pub(crate) line: usize,
}

impl Directive {
    /// The keyword in lower case (keywords are case-insensitive).
    pub(crate) fn key(&self) -> String {
        self.keyword.to_ascii_lowercase()
    }
}

/// The words of a line: whitespace separates them, double quotes keep
/// spaces in one, and a word starting with `#` starts a comment.
fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Ok(out);
        };
        if first == '#' {
            return Ok(out);
        }
        let mut word = String::new();
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            if c == '"' {
                quoted = !quoted;
                chars.next();
                continue;
            }
            if c.is_whitespace() && !quoted {
                break;
            }
            word.push(c);
            chars.next();
        }
        if quoted {
            return Err("a double quote is not closed".into());
        }
        out.push(word);
    }
}

/// The directives of a file, and the lines that do not parse (line,
/// why).
pub(crate) fn directives(text: &str) -> (Vec<Directive>, Vec<(usize, String)>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // `Keyword=value`, `Keyword = value` and `Keyword value` alike.
        let split = trimmed
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(trimmed.len());
        let keyword = &trimmed[..split];
        let mut rest = trimmed[split..].trim_start();
        if let Some(after) = rest.strip_prefix('=') {
            rest = after.trim_start();
        }
        match words(rest) {
            Ok(args) => out.push(Directive {
                keyword: keyword.to_owned(),
                args,
                line,
            }),
            Err(why) => bad.push((line, why)),
        }
    }
    (out, bad)
}

/// Whether `text` matches the glob `pattern` (`*` any run, `?` one
/// character), ASCII case-insensitively, as OpenSSH compares host names.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    // Iterative matching with one backtrack point (linear in practice).
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether `name` matches a list of patterns, each maybe negated with
/// `!`: some positive one matches and no negated one does.
pub(crate) fn list_match<'a>(patterns: impl IntoIterator<Item = &'a str>, name: &str) -> bool {
    let mut matched = false;
    for pattern in patterns {
        if let Some(negated) = pattern.strip_prefix('!') {
            if glob_match(negated, name) {
                return false;
            }
        } else if glob_match(pattern, name) {
            matched = true;
        }
    }
    matched
}

/// What `%` tokens stand for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tokens {
    /// `%h`: the remote host name.
    pub(crate) host: String,
    /// `%n`: the host as given.
    pub(crate) original: String,
    /// `%p`: the port.
    pub(crate) port: u16,
    /// `%r`: the remote user.
    pub(crate) remote_user: String,
    /// `%u`: the local user.
    pub(crate) local_user: String,
    /// `%d`: the local home directory.
    pub(crate) home: String,
}

/// `text` with its `%` tokens replaced (`Err` names an unknown one); a
/// leading `~/` is the home directory.
pub(crate) fn expand(text: &str, tokens: &Tokens) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('h') => out.push_str(&tokens.host),
            Some('n') => out.push_str(&tokens.original),
            Some('p') => out.push_str(&tokens.port.to_string()),
            Some('r') => out.push_str(&tokens.remote_user),
            Some('u') => out.push_str(&tokens.local_user),
            Some('d') => out.push_str(&tokens.home),
            Some(other) => return Err(format!("the token `%{other}` is not supported")),
            None => return Err("a `%` ends the value".into()),
        }
    }
    if out == "~" {
        return Ok(tokens.home.clone());
    }
    if let Some(rest) = out.strip_prefix("~/") {
        return Ok(format!("{}/{rest}", tokens.home.trim_end_matches('/')));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_words_and_comments() {
        let (d, bad) = directives(
            "# comment\n\nHost a b\n  HostName=x.example.org\nUser = \"me too\" # trailing\nIdentityFile \"~/my keys/id\"\nBad \"open\n",
        );
        let shown: Vec<(String, Vec<String>, usize)> = d
            .iter()
            .map(|d| (d.key(), d.args.clone(), d.line))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("host".into(), vec!["a".into(), "b".into()], 3),
                ("hostname".into(), vec!["x.example.org".into()], 4),
                ("user".into(), vec!["me too".into()], 5),
                ("identityfile".into(), vec!["~/my keys/id".into()], 6),
            ]
        );
        assert_eq!(bad, vec![(7, "a double quote is not closed".into())]);
    }

    #[test]
    fn globs_and_negation() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("*.example.org", "login.EXAMPLE.org"));
        assert!(!glob_match("*.example.org", "example.org"));
        assert!(glob_match("node?", "node7"));
        assert!(!glob_match("node?", "node17"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(list_match(["*.org", "!bad.org"], "good.org"));
        assert!(!list_match(["*.org", "!bad.org"], "bad.org"));
        assert!(
            !list_match(["!bad.org"], "good.org"),
            "negation alone matches nothing"
        );
    }

    #[test]
    fn tokens() {
        let t = Tokens {
            host: "10.0.0.1".into(),
            original: "cluster".into(),
            port: 2222,
            remote_user: "alice".into(),
            local_user: "bob".into(),
            home: "/home/bob".into(),
        };
        assert_eq!(
            expand("~/.ssh/id_%r@%h-%n:%p_%u%%", &t).unwrap(),
            "/home/bob/.ssh/id_alice@10.0.0.1-cluster:2222_bob%"
        );
        assert_eq!(expand("%d/.ssh/x", &t).unwrap(), "/home/bob/.ssh/x");
        assert!(expand("%C", &t).unwrap_err().contains("%C"));
    }
}
