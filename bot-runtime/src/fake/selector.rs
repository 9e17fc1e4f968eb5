//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, exists, `!`exists)
//! and field selectors (`metadata.name`, `metadata.namespace`, and a few
//! fields of built-in kinds) as list and watch filter them.

use std::collections::BTreeSet;

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq)]
enum Requirement {
    /// `key=value`, `key==value`, `key in (a,b)`.
    In(String, BTreeSet<String>),
    /// `key!=value`, `key notin (a,b)`: also true when the label is absent.
    NotIn(String, BTreeSet<String>),
    /// `key`
    Exists(String),
    /// `!key`
    DoesNotExist(String),
    /// `key>n`, `key<n` (integer labels).
    Compare(String, std::cmp::Ordering, i64),
}

/// A parsed label selector (every requirement must hold).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    /// Parses the `labelSelector` query parameter as apimachinery's
    /// `labels.Parse` does; the error is its message.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        Parser { tokens: lex(text), position: 0 }.parse().map(LabelSelector)
    }

    /// Whether an object with `labels` (its `metadata.labels`) matches.
    pub(crate) fn matches(&self, labels: Option<&Value>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::In(k, values) => get(k).is_some_and(|v| values.contains(v)),
            Requirement::NotIn(k, values) => get(k).is_none_or(|v| !values.contains(v)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
            Requirement::Compare(k, ord, n) => {
                get(k).and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v.cmp(n) == *ord)
            }
        })
    }
}

/// Tokens of apimachinery's selector lexer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Error,
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(s: &str) -> Option<Token> {
    Some(match s {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "in" => Token::In,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "notin" => Token::NotIn,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

/// The tokens of `text`, ending with `End`.
fn lex(text: &str) -> Vec<(Token, String)> {
    let chars: Vec<char> = text.chars().collect();
    let (mut out, mut i) = (Vec::new(), 0);
    loop {
        while i < chars.len() && matches!(chars[i], ' ' | '\t' | '\r' | '\n') {
            i += 1;
        }
        let Some(&c) = chars.get(i) else {
            out.push((Token::End, String::new()));
            return out;
        };
        if is_special(c) {
            // The longest run of special characters that is a token.
            let (mut buffer, mut last) = (String::new(), None);
            while let Some(&c) = chars.get(i).filter(|c| is_special(**c)) {
                buffer.push(c);
                match keyword(&buffer) {
                    Some(t) => last = Some((t, buffer.clone())),
                    None if last.is_some() => break,
                    None => {}
                }
                i += 1;
            }
            match last {
                Some(token) => out.push(token),
                None => out.push((Token::Error, format!("error expected: keyword found '{buffer}'"))),
            }
        } else {
            let start = i;
            while i < chars.len() && !is_special(chars[i]) && !matches!(chars[i], ' ' | '\t' | '\r' | '\n') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push((keyword(&word).unwrap_or(Token::Identifier), word));
        }
    }
}

/// apimachinery's selector parser, with its error messages.
struct Parser {
    tokens: Vec<(Token, String)>,
    position: usize,
}

/// Whether a value context reads `in`/`notin` as identifiers.
#[derive(Clone, Copy, PartialEq)]
enum Context {
    KeyAndOperator,
    Values,
}

impl Parser {
    fn lookahead(&self, context: Context) -> (Token, String) {
        let (t, lit) = self.tokens[self.position.min(self.tokens.len() - 1)].clone();
        match (context, t) {
            (Context::Values, Token::In | Token::NotIn) => (Token::Identifier, lit),
            _ => (t, lit),
        }
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        let item = self.lookahead(context);
        self.position += 1;
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut out = Vec::new();
        loop {
            let (t, lit) = self.lookahead(Context::Values);
            match t {
                Token::Identifier | Token::DoesNotExist => {
                    out.push(self.requirement().map_err(|e| format!("unable to parse requirement: {e}"))?);
                    let (t, l) = self.consume(Context::Values);
                    match t {
                        Token::End => return Ok(out),
                        Token::Comma => {
                            let (t2, l2) = self.lookahead(Context::Values);
                            if t2 != Token::Identifier && t2 != Token::DoesNotExist {
                                return Err(format!("found '{l2}', expected: identifier after ','"));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Token::End => return Ok(out),
                _ => return Err(format!("found '{lit}', expected: !, identifier, or 'end of string'")),
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let (mut t, mut key) = self.consume(Context::Values);
        let negated = t == Token::DoesNotExist;
        if negated {
            (t, key) = self.consume(Context::Values);
        }
        if t != Token::Identifier {
            return Err(format!("found '{key}', expected: identifier"));
        }
        let (next, _) = self.lookahead(Context::Values);
        if negated || matches!(next, Token::End | Token::Comma) {
            return Ok(if negated { Requirement::DoesNotExist(key) } else { Requirement::Exists(key) });
        }
        let (op, lit) = self.consume(Context::KeyAndOperator);
        match op {
            Token::In => Ok(Requirement::In(key, self.values()?)),
            Token::NotIn => Ok(Requirement::NotIn(key, self.values()?)),
            Token::Equals | Token::DoubleEquals => Ok(Requirement::In(key, self.exact_value()?)),
            Token::NotEquals => Ok(Requirement::NotIn(key, self.exact_value()?)),
            Token::GreaterThan | Token::LessThan => {
                let value = self.exact_value()?.into_iter().next().unwrap_or_default();
                let n = value
                    .parse::<i64>()
                    .map_err(|_| format!("for 'gt', 'lt' operators, the value must be an integer: {value}"))?;
                let ord = if op == Token::GreaterThan { std::cmp::Ordering::Greater } else { std::cmp::Ordering::Less };
                Ok(Requirement::Compare(key, ord, n))
            }
            _ => Err(format!("found '{lit}', expected: in, notin, =, ==, !=, gt, lt")),
        }
    }

    fn exact_value(&mut self) -> Result<BTreeSet<String>, String> {
        let (t, _) = self.lookahead(Context::Values);
        if matches!(t, Token::End | Token::Comma) {
            return Ok(BTreeSet::from([String::new()]));
        }
        match self.consume(Context::Values) {
            (Token::Identifier, lit) => Ok(BTreeSet::from([lit])),
            (_, lit) => Err(format!("found '{lit}', expected: identifier")),
        }
    }

    fn values(&mut self) -> Result<BTreeSet<String>, String> {
        let (t, lit) = self.consume(Context::Values);
        if t != Token::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (t, lit) = self.lookahead(Context::Values);
        match t {
            Token::Identifier | Token::Comma => {
                let set = self.identifiers()?;
                if self.consume(Context::Values).0 != Token::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(set)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn identifiers(&mut self) -> Result<BTreeSet<String>, String> {
        let mut set = BTreeSet::new();
        loop {
            let (t, lit) = self.consume(Context::Values);
            match t {
                Token::Identifier => {
                    set.insert(lit);
                    let (t2, lit2) = self.lookahead(Context::Values);
                    match t2 {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(set),
                        _ => return Err(format!("found '{lit2}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if set.is_empty() {
                        set.insert(String::new());
                    }
                    match self.lookahead(Context::Values).0 {
                        Token::ClosedPar => {
                            set.insert(String::new());
                            return Ok(set);
                        }
                        Token::Comma => {
                            self.consume(Context::Values);
                            set.insert(String::new());
                        }
                        _ => {}
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }
}

/// A parsed field selector (`field=value`, `field==value`, `field!=value`).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses the `fieldSelector` query parameter against the fields the
    /// kind supports (`metadata.name`, `metadata.namespace`, plus
    /// `supported`); the error is the apiserver's message.
    pub(crate) fn parse(text: &str, supported: &[&str]) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(format!("invalid selector: '{text}'; can't understand '{part}'"));
            };
            let field = field.trim();
            if !["metadata.name", "metadata.namespace"].contains(&field) && !supported.contains(&field) {
                return Err(format!("field label not supported: {field}"));
            }
            out.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector(out))
    }

    /// Whether `obj` matches.
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let actual = match obj.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (actual == *value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn label_selectors_of_every_form() {
        let labels = json!({ "app": "web", "tier": "front" });
        let check = |s: &str| LabelSelector::parse(s).map(|sel| sel.matches(Some(&labels)));
        assert_eq!(check("app=web"), Ok(true));
        assert_eq!(check("app==web,tier!=back"), Ok(true));
        assert_eq!(check("app in (api, web),tier notin (back)"), Ok(true));
        assert_eq!(check("app notin (web)"), Ok(false));
        assert_eq!(check("tier,!missing"), Ok(true));
        assert_eq!(check("missing!=x"), Ok(true));
        assert_eq!(check("!app"), Ok(false));
        assert_eq!(check("app in web"), Err("unable to parse requirement: found 'web' expected: '('".into()));
        assert_eq!(check("app>1"), Ok(false));
        assert_eq!(check("app in (web),"), Err("found '', expected: identifier after ','".into()));
    }

    #[test]
    fn field_selectors() {
        let obj = json!({ "metadata": { "name": "a", "namespace": "ns" }, "type": "Opaque" });
        let sel = FieldSelector::parse("metadata.name=a,metadata.namespace!=x", &[]).expect("valid");
        assert!(sel.matches(&obj));
        assert!(FieldSelector::parse("type=Opaque", &["type"]).expect("valid").matches(&obj));
        assert_eq!(FieldSelector::parse("spec.x=1", &[]), Err("field label not supported: spec.x".to_string()));
    }
}
