//! `queries[]` for listing documents: JSON strings like
//! `{"method":"equal","attribute":"status","values":["open"]}` (UDB `Query::parse`),
//! validated against the collection schema (UDB `Validator\Queries\Documents`) and evaluated
//! with the semantics of the MariaDB adapter (SQL NULL handling, `$sequence` tie-break,
//! keyset cursors).

use std::cmp::Ordering;

use serde_json::Value;

use crate::errors::{ApiError, ApiResult};
use crate::schema::{Attribute, AttributeKind};
use crate::time;

/// `APP_LIMIT_LIST_DEFAULT` and the largest page Appwrite serves.
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 5000;

/// Read access to a document's fields by query attribute name (`$id`, `$sequence`, ...).
pub trait Fields {
    fn field(&self, name: &str) -> Value;
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Equal,
    NotEqual,
    IsNull,
    IsNotNull,
    GreaterThan,
    GreaterThanEqual,
    LessThan,
    LessThanEqual,
}

#[derive(Debug)]
struct Filter {
    attribute: String,
    op: Op,
    values: Vec<Value>,
}

#[derive(Debug)]
struct Order {
    attribute: String,
    desc: bool,
}

#[derive(Debug)]
pub enum Cursor {
    After(String),
    Before(String),
}

#[derive(Debug)]
pub struct ListQuery {
    filters: Vec<Filter>,
    orders: Vec<Order>,
    limit: usize,
    offset: usize,
    pub cursor: Option<Cursor>,
}

fn invalid(message: impl std::fmt::Display) -> ApiError {
    ApiError::QueryInvalid(format!("Invalid query: {message}"))
}

/// The kind of a queryable field, `None` for unknown attributes.
fn kind_of(attributes: &[Attribute], name: &str) -> Option<(AttributeKind, bool)> {
    match name {
        "$id" => Some((AttributeKind::String { size: 36 }, false)),
        "$sequence" => Some((AttributeKind::Integer { min: 0, max: i64::MAX }, false)),
        "$createdAt" | "$updatedAt" => Some((AttributeKind::Datetime, false)),
        _ => attributes.iter().find(|a| a.key == name).map(|a| (a.kind.clone(), a.array)),
    }
}

/// Makes a query value comparable with stored values, or rejects it for this attribute type.
fn coerce(kind: &AttributeKind, value: &Value) -> Option<Value> {
    match (kind, value) {
        (AttributeKind::String { .. }, Value::String(_)) | (AttributeKind::Boolean, Value::Bool(_)) => {
            Some(value.clone())
        }
        (AttributeKind::Integer { .. }, Value::Number(n)) if n.is_i64() => Some(value.clone()),
        (AttributeKind::Datetime, Value::String(s)) => time::parse_stored(s).map(|ts| Value::String(time::format(&ts))),
        _ => None,
    }
}

fn int_value(values: &[Value], what: &str, range: std::ops::RangeInclusive<usize>) -> ApiResult<usize> {
    values.first().and_then(Value::as_u64).map(|n| n as usize).filter(|n| range.contains(n)).ok_or_else(|| {
        invalid(format!("Invalid {what}: Value must be a valid range between {} and {}", range.start(), range.end()))
    })
}

/// Parses `queries[]`; each may carry up to `max_values` values (`APP_DATABASE_QUERY_MAX_VALUES`).
pub fn parse(raw: &[String], attributes: &[Attribute], max_values: usize) -> ApiResult<ListQuery> {
    let mut query = ListQuery { filters: vec![], orders: vec![], limit: DEFAULT_LIMIT, offset: 0, cursor: None };
    for text in raw {
        let json: Value = serde_json::from_str(text).map_err(invalid)?;
        let Value::Object(object) = json else {
            return Err(invalid(format!("Must be an array, got {}", type_name(&json))));
        };
        let method = match object.get("method") {
            Some(Value::String(m)) => m.as_str(),
            other => {
                return Err(invalid(format!(
                    "Invalid query method. Must be a string, got {}",
                    other.map_or("NULL", type_name)
                )))
            }
        };
        let attribute = object.get("attribute").and_then(Value::as_str).unwrap_or("").to_owned();
        let values = match object.get("values") {
            None => vec![],
            Some(Value::Array(values)) => values.clone(),
            Some(other) => {
                return Err(invalid(format!("Invalid query values. Must be an array, got {}", type_name(other))))
            }
        };
        let op = match method {
            "limit" => {
                query.limit = int_value(&values, "limit", 1..=MAX_LIMIT)?;
                continue;
            }
            "offset" => {
                query.offset = int_value(&values, "offset", 0..=MAX_LIMIT)?;
                continue;
            }
            "cursorAfter" | "cursorBefore" => {
                let id = values.first().and_then(Value::as_str).filter(|id| crate::ids::is_valid(id));
                let id = id.ok_or_else(|| invalid("Invalid cursor: Cursor must contain a valid document ID"))?;
                query.cursor = Some(if method == "cursorAfter" {
                    Cursor::After(id.to_owned())
                } else {
                    Cursor::Before(id.to_owned())
                });
                continue;
            }
            "orderAsc" | "orderDesc" => {
                if kind_of(attributes, &attribute).is_none() {
                    return Err(invalid(format!("Attribute not found in schema: {attribute}")));
                }
                query.orders.push(Order { attribute, desc: method == "orderDesc" });
                continue;
            }
            "equal" => Op::Equal,
            "notEqual" => Op::NotEqual,
            "isNull" => Op::IsNull,
            "isNotNull" => Op::IsNotNull,
            "greaterThan" => Op::GreaterThan,
            "greaterThanEqual" => Op::GreaterThanEqual,
            "lessThan" => Op::LessThan,
            "lessThanEqual" => Op::LessThanEqual,
            other => return Err(invalid(format!("Invalid query method: {other}"))),
        };
        let (kind, array) = kind_of(attributes, &attribute)
            .ok_or_else(|| invalid(format!("Attribute not found in schema: {attribute}")))?;
        let values = match op {
            Op::IsNull | Op::IsNotNull => vec![],
            _ if array => {
                return Err(invalid(format!(
                    "Cannot query {method} on attribute \"{attribute}\" because it is an array."
                )))
            }
            _ => {
                let expected = if op == Op::Equal { 1..=max_values } else { 1..=1 };
                if !expected.contains(&values.len()) {
                    return Err(invalid(format!(
                        "{method} queries require {} value(s), got {}",
                        if op == Op::Equal { "at least one" } else { "exactly one" },
                        values.len()
                    )));
                }
                values
                    .iter()
                    .map(|v| coerce(&kind, v))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| invalid(format!("Query value is invalid for attribute \"{attribute}\"")))?
            }
        };
        query.filters.push(Filter { attribute, op, values });
    }
    Ok(query)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NULL",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Compares two non-null values of the same type; `None` if they are not comparable.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        // The default collation compares strings ignoring case: `equal` on `Lead-A` finds `lead-a`.
        (Value::String(x), Value::String(y)) => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// SQL ordering: NULL sorts before every value.
fn sort_compare(a: &Value, b: &Value) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => compare(a, b).unwrap_or(Ordering::Equal),
    }
}

impl Filter {
    /// SQL three-valued logic collapsed to "matches": comparisons with NULL never match.
    fn matches(&self, doc: &impl Fields) -> bool {
        let value = doc.field(&self.attribute);
        let cmp = |wanted: &[Ordering]| {
            !value.is_null() && compare(&value, &self.values[0]).is_some_and(|ordering| wanted.contains(&ordering))
        };
        match self.op {
            Op::IsNull => value.is_null(),
            Op::IsNotNull => !value.is_null(),
            Op::Equal => self.values.iter().any(|v| compare(&value, v) == Some(Ordering::Equal)),
            Op::NotEqual => cmp(&[Ordering::Less, Ordering::Greater]),
            Op::GreaterThan => cmp(&[Ordering::Greater]),
            Op::GreaterThanEqual => cmp(&[Ordering::Greater, Ordering::Equal]),
            Op::LessThan => cmp(&[Ordering::Less]),
            Op::LessThanEqual => cmp(&[Ordering::Less, Ordering::Equal]),
        }
    }
}

/// The result of a list: the total of matching documents (ignoring paging) and one page.
pub struct Page<'a, D> {
    pub total: usize,
    pub documents: Vec<&'a D>,
}

impl ListQuery {
    /// No page limit: routes that predate paging return everything.
    pub fn unlimited(&mut self) {
        self.limit = usize::MAX;
    }

    pub fn matches(&self, doc: &impl Fields) -> bool {
        self.filters.iter().all(|f| f.matches(doc))
    }

    /// The effective sort keys: the requested orders plus the `$sequence` tie-break the UDB
    /// adds (same direction as a leading `$createdAt`/`$updatedAt` order, else ascending).
    fn sort_keys(&self) -> Vec<(&str, bool)> {
        let mut keys: Vec<(&str, bool)> = self.orders.iter().map(|o| (o.attribute.as_str(), o.desc)).collect();
        if !keys.iter().any(|(a, _)| *a == "$id" || *a == "$sequence") {
            let desc = match keys.first() {
                Some((lead, desc)) if matches!(*lead, "$createdAt" | "$updatedAt") => *desc,
                _ => false,
            };
            keys.push(("$sequence", desc));
        }
        keys
    }

    fn order(keys: &[(&str, bool)], a: &impl Fields, b: &impl Fields) -> Ordering {
        keys.iter()
            .map(|(attribute, desc)| {
                let ordering = sort_compare(&a.field(attribute), &b.field(attribute));
                if *desc {
                    ordering.reverse()
                } else {
                    ordering
                }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }

    /// Filters, sorts and pages `docs`. `cursor_doc` is the resolved cursor document, which
    /// need not match the filters itself (keyset pagination compares its sort values).
    pub fn run<'a, D: Fields>(&self, docs: impl Iterator<Item = &'a D>, cursor_doc: Option<&D>) -> Page<'a, D> {
        let keys = self.sort_keys();
        let mut matching: Vec<&D> = docs.filter(|d| self.matches(*d)).collect();
        let total = matching.len();
        matching.sort_by(|a, b| Self::order(&keys, *a, *b));
        let after_cursor: Vec<&D> = match (&self.cursor, cursor_doc) {
            (Some(Cursor::After(_)), Some(c)) => {
                matching.into_iter().filter(|d| Self::order(&keys, *d, c).is_gt()).collect()
            }
            (Some(Cursor::Before(_)), Some(c)) => {
                let before: Vec<&D> = matching.into_iter().filter(|d| Self::order(&keys, *d, c).is_lt()).collect();
                // The page is the `limit` documents right before the cursor, in normal order.
                let skip = before.len().saturating_sub(self.offset.saturating_add(self.limit));
                let end = before.len().saturating_sub(self.offset);
                return Page { total, documents: before[skip..end].to_vec() };
            }
            _ => matching,
        };
        let documents = after_cursor.into_iter().skip(self.offset).take(self.limit).collect();
        Page { total, documents }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Doc(Value);
    impl Fields for Doc {
        fn field(&self, name: &str) -> Value {
            self.0.get(name).cloned().unwrap_or(Value::Null)
        }
    }

    fn attrs() -> Vec<Attribute> {
        vec![
            Attribute::new("status".into(), AttributeKind::String { size: 10 }, false, false, Value::Null).unwrap(),
            Attribute::new("n".into(), AttributeKind::Integer { min: 0, max: 100 }, false, false, Value::Null).unwrap(),
        ]
    }

    fn docs() -> Vec<Doc> {
        [("a", "open", json!(3)), ("b", "won", json!(1)), ("c", "open", Value::Null), ("d", "open", json!(2))]
            .iter()
            .enumerate()
            .map(|(i, (id, status, n))| Doc(json!({"$id": id, "$sequence": i + 1, "status": status, "n": n})))
            .collect()
    }

    fn ids(query: &[&str], cursor: Option<&str>) -> (usize, Vec<String>) {
        let raw: Vec<String> = query.iter().map(|s| s.to_string()).collect();
        let q = parse(&raw, &attrs(), 100).unwrap();
        let docs = docs();
        let cursor_doc = cursor.and_then(|c| docs.iter().find(|d| d.field("$id") == c));
        let page = q.run(docs.iter(), cursor_doc);
        (page.total, page.documents.iter().map(|d| d.field("$id").as_str().unwrap().to_owned()).collect())
    }

    #[test]
    fn filters_orders_and_pages() {
        let eq = r#"{"method":"equal","attribute":"status","values":["open"]}"#;
        assert_eq!(ids(&[eq], None), (3, vec!["a".into(), "c".into(), "d".into()]));
        let desc = r#"{"method":"orderDesc","attribute":"n"}"#;
        assert_eq!(ids(&[eq, desc], None).1, vec!["a", "d", "c"]);
        let limit = r#"{"method":"limit","values":[1]}"#;
        let after = r#"{"method":"cursorAfter","values":["a"]}"#;
        assert_eq!(ids(&[eq, desc, limit, after], Some("a")), (3, vec!["d".into()]));
        let gt = r#"{"method":"greaterThan","attribute":"n","values":[1]}"#;
        assert_eq!(ids(&[gt], None).1, vec!["a", "d"]);
        let ne = r#"{"method":"notEqual","attribute":"n","values":[3]}"#;
        assert_eq!(ids(&[ne], None).1, vec!["b", "d"]);
        let null = r#"{"method":"isNull","attribute":"n"}"#;
        assert_eq!(ids(&[null], None).1, vec!["c"]);
    }

    #[test]
    fn rejects_bad_queries() {
        for bad in [
            r#"{"method":"equal","attribute":"nope","values":["x"]}"#,
            r#"{"method":"equal","attribute":"n","values":["x"]}"#,
            r#"{"method":"explode","attribute":"n","values":[1]}"#,
            r#"{"method":"limit","values":[0]}"#,
            "not json",
        ] {
            let err = parse(&[bad.to_string()], &attrs(), 100).unwrap_err();
            assert_eq!(err.type_and_status(), ("general_query_invalid", 400), "{bad}");
        }
    }
}
