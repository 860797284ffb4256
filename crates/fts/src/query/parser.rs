//! Recursive-descent parser from tokens to a [`QueryNode`] tree.
//!
//! ```text
//! seq     := clause*                      (until `)` or end)
//! clause  := or
//! or      := and ("OR" and)*
//! and     := unary ("AND" unary)*
//! unary   := ("+" | "-" | "NOT") unary | primary
//! primary := "(" seq ")" ["^" boost] | PHRASE | WORD
//! ```
//!
//! Recursion depth and the number of leaves are bounded, so hostile input
//! gets a typed error, not a stack overflow.

use super::lexer::{Tok, lex, parse_boost};
use super::{Query, QueryNode};
use crate::error::{FtsError, QueryErrorKind, Result};

/// Deepest nesting of parentheses and prefix operators accepted.
pub const MAX_DEPTH: usize = 64;
/// Most leaf clauses (terms, phrases, prefixes, fuzzy terms) accepted.
pub const MAX_CLAUSES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Occur {
    Should,
    Must,
    MustNot,
}

struct Clause {
    occur: Occur,
    node: QueryNode,
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    leaves: usize,
    end_offset: usize,
}

pub(crate) fn parse(input: &str) -> Result<Query> {
    let mut parser = Parser {
        toks: lex(input)?,
        pos: 0,
        leaves: 0,
        end_offset: input.len(),
    };
    let root = parser.seq(0)?;
    if let Some((_, at)) = parser.toks.get(parser.pos) {
        return Err(FtsError::query(QueryErrorKind::UnbalancedParenthesis, *at));
    }
    Ok(Query { root })
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn offset(&self) -> usize {
        self.toks
            .get(self.pos)
            .map_or(self.end_offset, |(_, at)| *at)
    }

    fn err(&self, kind: QueryErrorKind) -> FtsError {
        FtsError::query(kind, self.offset())
    }

    fn seq(&mut self, depth: usize) -> Result<QueryNode> {
        let mut clauses = Vec::new();
        while !matches!(self.peek(), None | Some(Tok::RParen(_))) {
            clauses.push(self.or(depth)?);
        }
        if clauses.len() == 1 && clauses[0].occur == Occur::Should {
            return Ok(clauses.remove(0).node);
        }
        Ok(bool_of(clauses))
    }

    fn or(&mut self, depth: usize) -> Result<Clause> {
        let first = self.and(depth)?;
        if self.peek() != Some(&Tok::Or) {
            return Ok(first);
        }
        let mut should = vec![negation_as_node(first)];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            should.push(negation_as_node(self.and(depth)?));
        }
        Ok(Clause {
            occur: Occur::Should,
            node: QueryNode::Bool {
                must: Vec::new(),
                should,
                must_not: Vec::new(),
            },
        })
    }

    fn and(&mut self, depth: usize) -> Result<Clause> {
        let first = self.unary(depth)?;
        if self.peek() != Some(&Tok::And) {
            return Ok(first);
        }
        let mut clauses = vec![first];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            clauses.push(self.unary(depth)?);
        }
        for clause in &mut clauses {
            if clause.occur == Occur::Should {
                clause.occur = Occur::Must;
            }
        }
        Ok(Clause {
            occur: Occur::Should,
            node: bool_of(clauses),
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Clause> {
        if depth >= MAX_DEPTH {
            return Err(self.err(QueryErrorKind::TooDeep { limit: MAX_DEPTH }));
        }
        match self.peek() {
            Some(Tok::Plus) => {
                self.pos += 1;
                let inner = self.operand(depth)?;
                Ok(match inner.occur {
                    Occur::MustNot => inner,
                    _ => Clause {
                        occur: Occur::Must,
                        node: inner.node,
                    },
                })
            }
            Some(Tok::Minus | Tok::Not) => {
                self.pos += 1;
                let inner = self.operand(depth)?;
                Ok(Clause {
                    occur: Occur::MustNot,
                    node: negation_as_node(inner),
                })
            }
            _ => Ok(Clause {
                occur: Occur::Should,
                node: self.primary(depth)?,
            }),
        }
    }

    fn operand(&mut self, depth: usize) -> Result<Clause> {
        if matches!(
            self.peek(),
            None | Some(Tok::RParen(_) | Tok::And | Tok::Or)
        ) {
            return Err(self.err(QueryErrorKind::MissingOperand));
        }
        self.unary(depth + 1)
    }

    fn primary(&mut self, depth: usize) -> Result<QueryNode> {
        let Some((tok, at)) = self.toks.get(self.pos).cloned() else {
            return Err(self.err(QueryErrorKind::MissingOperand));
        };
        match tok {
            Tok::LParen => {
                self.pos += 1;
                let inner = self.seq(depth + 1)?;
                let Some(Tok::RParen(boost)) = self.peek().cloned() else {
                    return Err(FtsError::query(QueryErrorKind::UnbalancedParenthesis, at));
                };
                self.pos += 1;
                let mut inner = inner;
                if let Some(boost) = boost {
                    scale_boosts(&mut inner, boost);
                }
                Ok(inner)
            }
            Tok::Phrase(text, boost) => {
                self.pos += 1;
                self.count_leaf()?;
                Ok(QueryNode::Phrase {
                    text,
                    boost: boost.unwrap_or(1.0),
                })
            }
            Tok::Word(word) => {
                self.pos += 1;
                self.count_leaf()?;
                word_leaf(&word, at)
            }
            Tok::RParen(_) | Tok::And | Tok::Or | Tok::Not | Tok::Plus | Tok::Minus => {
                Err(self.err(QueryErrorKind::MissingOperand))
            }
        }
    }

    fn count_leaf(&mut self) -> Result<()> {
        self.leaves += 1;
        if self.leaves > MAX_CLAUSES {
            return Err(self.err(QueryErrorKind::TooManyClauses { limit: MAX_CLAUSES }));
        }
        Ok(())
    }
}

/// A clause as a node usable anywhere: exclusions become a pure-negative
/// boolean (everything except).
fn negation_as_node(clause: Clause) -> QueryNode {
    match clause.occur {
        Occur::MustNot => QueryNode::Bool {
            must: Vec::new(),
            should: Vec::new(),
            must_not: vec![clause.node],
        },
        Occur::Should | Occur::Must => clause.node,
    }
}

fn bool_of(clauses: Vec<Clause>) -> QueryNode {
    let (mut must, mut should, mut must_not) = (Vec::new(), Vec::new(), Vec::new());
    for clause in clauses {
        match clause.occur {
            Occur::Must => must.push(clause.node),
            Occur::Should => should.push(clause.node),
            Occur::MustNot => must_not.push(clause.node),
        }
    }
    QueryNode::Bool {
        must,
        should,
        must_not,
    }
}

/// Multiplies every leaf boost under `node` by `factor`. Recursion depth is
/// bounded by the parser's depth limit.
fn scale_boosts(node: &mut QueryNode, factor: f32) {
    match node {
        QueryNode::Term { boost, .. }
        | QueryNode::Phrase { boost, .. }
        | QueryNode::Prefix { boost, .. }
        | QueryNode::Fuzzy { boost, .. } => *boost *= factor,
        QueryNode::Bool {
            must,
            should,
            must_not,
        } => {
            for child in must.iter_mut().chain(should).chain(must_not) {
                scale_boosts(child, factor);
            }
        }
    }
}

/// Interprets a word's suffixes: `^boost`, then `*` (prefix) or `~n`
/// (fuzzy).
fn word_leaf(word: &str, at: usize) -> Result<QueryNode> {
    let (base, boost) = match word.rfind('^') {
        Some(i) if i > 0 => (&word[..i], parse_boost(&word[i + 1..], at + i)?),
        _ => (word, 1.0),
    };
    if base.len() > 1 && base.ends_with('*') {
        return Ok(QueryNode::Prefix {
            prefix: base.trim_end_matches('*').to_owned(),
            boost,
        });
    }
    if let Some(i) = base.rfind('~').filter(|&i| i > 0) {
        let digits = &base[i + 1..];
        if digits.chars().all(|c| c.is_ascii_digit()) {
            let distance = match digits {
                "" => 2,
                "0" | "1" | "2" => digits.parse::<u8>().unwrap_or(2),
                _ => {
                    return Err(FtsError::query(
                        QueryErrorKind::InvalidFuzzyDistance,
                        at + i,
                    ));
                }
            };
            return Ok(QueryNode::Fuzzy {
                text: base[..i].to_owned(),
                distance,
                boost,
            });
        }
    }
    Ok(QueryNode::Term {
        text: base.to_owned(),
        boost,
    })
}
