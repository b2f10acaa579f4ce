//! Collection schema: attributes, indexes and document validation (UDB `Validator\Structure`),
//! and their response models (`src/Appwrite/Utopia/Response/Model/Attribute*.php`, `Index.php`).

use serde_json::{json, Map, Value};

use crate::errors::{ApiError, ApiResult};
use crate::time::{self, Timestamp};

#[derive(Debug, Clone, PartialEq)]
pub enum AttributeKind {
    String { size: u64 },
    Integer { min: i64, max: i64 },
    Boolean,
    Datetime,
}

impl AttributeKind {
    pub fn name(&self) -> &'static str {
        match self {
            AttributeKind::String { .. } => "string",
            AttributeKind::Integer { .. } => "integer",
            AttributeKind::Boolean => "boolean",
            AttributeKind::Datetime => "datetime",
        }
    }

    /// Checks one scalar value; datetimes are normalised to the stored format.
    /// The error text is UDB's validator description.
    fn check(&self, value: &Value) -> Result<Value, String> {
        match (self, value) {
            (AttributeKind::String { size }, Value::String(s)) if s.chars().count() as u64 <= *size => {
                Ok(value.clone())
            }
            (AttributeKind::String { size }, _) => {
                Err(format!("Value must be a valid string and at least 0 chars and no longer than {size} chars"))
            }
            (AttributeKind::Integer { min, max }, Value::Number(n)) if n.is_i64() => {
                let n = n.as_i64().unwrap_or_default();
                if (*min..=*max).contains(&n) {
                    Ok(value.clone())
                } else {
                    Err(format!("Value must be a valid range between {min} and {max}"))
                }
            }
            (AttributeKind::Integer { .. }, _) => Err("Value must be a valid integer".into()),
            (AttributeKind::Boolean, Value::Bool(_)) => Ok(value.clone()),
            (AttributeKind::Boolean, _) => Err("Value must be a valid boolean".into()),
            (AttributeKind::Datetime, Value::String(s)) => time::parse_stored(s)
                .map(|ts| Value::String(time::format(&ts)))
                .ok_or_else(|| "Value must be valid date between 0000-01-01 00:00:00 and 9999-12-31 23:59:59.".into()),
            (AttributeKind::Datetime, _) => {
                Err("Value must be valid date between 0000-01-01 00:00:00 and 9999-12-31 23:59:59.".into())
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Attribute {
    pub key: String,
    pub kind: AttributeKind,
    pub required: bool,
    pub array: bool,
    pub default: Value,
    pub created_at: Timestamp,
}

impl Attribute {
    /// Validates the creation parameters (`Attributes/*/Create.php`): no default for required
    /// or array attributes, a default of the right type, a sane integer range.
    pub fn new(key: String, kind: AttributeKind, required: bool, array: bool, default: Value) -> ApiResult<Self> {
        crate::ids::check("key", &key)?;
        if !default.is_null() {
            if required {
                return Err(ApiError::AttributeDefaultUnsupported(
                    "Cannot set default value for required attribute".into(),
                ));
            }
            if array {
                return Err(ApiError::AttributeDefaultUnsupported(
                    "Cannot set default value for array attributes".into(),
                ));
            }
        }
        if let AttributeKind::Integer { min, max } = kind {
            if min > max {
                return Err(ApiError::AttributeValueInvalid("Minimum value must be lesser than maximum value".into()));
            }
        }
        let default = if default.is_null() {
            default
        } else {
            kind.check(&default).map_err(|reason| ApiError::invalid_param("default", reason))?
        };
        Ok(Self { key, kind, required, array, default, created_at: time::now() })
    }

    /// The attribute model. Creation is synchronous here, so the only status reported after
    /// the create call itself is `available`.
    pub fn to_json(&self, status: &str) -> Value {
        let ts = time::format(&self.created_at);
        let mut out = json!({
            "key": self.key,
            "type": self.kind.name(),
            "status": status,
            "error": "",
            "required": self.required,
            "array": self.array,
            "$createdAt": ts,
            "$updatedAt": ts,
        });
        let fields = out.as_object_mut().expect("object literal");
        match &self.kind {
            AttributeKind::String { size } => {
                fields.insert("size".into(), json!(size));
                fields.insert("default".into(), self.default.clone());
                fields.insert("encrypt".into(), json!(false));
            }
            AttributeKind::Integer { min, max } => {
                fields.insert("min".into(), json!(min));
                fields.insert("max".into(), json!(max));
                fields.insert("default".into(), self.default.clone());
            }
            AttributeKind::Boolean => {
                fields.insert("default".into(), self.default.clone());
            }
            AttributeKind::Datetime => {
                fields.insert("format".into(), json!("datetime"));
                fields.insert("default".into(), self.default.clone());
            }
        }
        out
    }

    fn check(&self, value: &Value) -> Result<Value, String> {
        let label = format!("Attribute \"{}\"", self.key);
        if !self.array {
            return self.kind.check(value).map_err(|e| format!("{label} has invalid type. {e}"));
        }
        let Value::Array(items) = value else {
            return Err(format!("{label} must be an array"));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Null if !self.required => Ok(Value::Null),
                _ => self
                    .kind
                    .check(item)
                    .map_err(|e| format!("Attribute \"{}['{i}']\" has invalid type. {e}", self.key)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array)
    }
}

/// Built-in fields every document has and that queries and indexes may use.
pub const SYSTEM_FIELDS: &[&str] = &["$id", "$sequence", "$createdAt", "$updatedAt"];

/// Fills defaults (UDB `Database::encode`: a missing or null value takes the default) and
/// validates the attribute values of a complete document (UDB `Validator\Structure`).
pub fn validate(attributes: &[Attribute], data: &mut Map<String, Value>) -> ApiResult<()> {
    let invalid =
        |message: String| ApiError::DocumentInvalidStructure(format!("Invalid document structure: {message}"));
    for attribute in attributes {
        let value = data.entry(attribute.key.clone()).or_insert(Value::Null);
        if value.is_null() {
            *value = attribute.default.clone();
        }
        if attribute.required && value.is_null() {
            return Err(invalid(format!("Missing required attribute \"{}\"", attribute.key)));
        }
    }
    if let Some(unknown) = data.keys().find(|k| !attributes.iter().any(|a| &a.key == *k)) {
        return Err(invalid(format!("Unknown attribute: \"{unknown}\"")));
    }
    for attribute in attributes {
        let value = data.get_mut(&attribute.key).expect("filled above");
        let empty_optional_array = attribute.array && value.as_array().is_some_and(|a| a.is_empty());
        if value.is_null() || (empty_optional_array && !attribute.required) {
            continue;
        }
        *value = attribute.check(value).map_err(invalid)?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Index {
    pub key: String,
    pub kind: String,
    pub attributes: Vec<String>,
    pub orders: Vec<String>,
    pub lengths: Vec<Value>,
    pub status: &'static str,
    pub error: String,
    pub created_at: Timestamp,
}

impl Index {
    pub fn is_unique(&self) -> bool {
        self.kind == "unique" && self.status == "available"
    }

    pub fn to_json(&self, status: &str) -> Value {
        let ts = time::format(&self.created_at);
        json!({
            "$id": self.key,
            "$createdAt": ts,
            "$updatedAt": ts,
            "key": self.key,
            "type": self.kind,
            "status": status,
            "error": self.error,
            "attributes": self.attributes,
            "lengths": self.lengths,
            "orders": self.orders,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(key: &str, kind: AttributeKind, required: bool) -> Attribute {
        Attribute::new(key.into(), kind, required, false, Value::Null).unwrap()
    }

    #[test]
    fn validates_structure() {
        let attrs = vec![
            attr("name", AttributeKind::String { size: 5 }, true),
            attr("n", AttributeKind::Integer { min: 0, max: 9 }, false),
            attr("at", AttributeKind::Datetime, false),
        ];
        let mut ok = json!({"name": "bob", "at": "2024-01-02"}).as_object().unwrap().clone();
        validate(&attrs, &mut ok).unwrap();
        assert_eq!(ok["n"], Value::Null);
        assert_eq!(ok["at"], "2024-01-02T00:00:00.000+00:00");
        for bad in [
            json!({}),
            json!({"name": "toolong"}),
            json!({"name": "a", "n": 10}),
            json!({"name": "a", "x": 1}),
            json!({"name": "a", "n": 1.5}),
        ] {
            let mut data = bad.as_object().unwrap().clone();
            let err = validate(&attrs, &mut data).unwrap_err();
            assert_eq!(err.type_and_status(), ("document_invalid_structure", 400), "{bad}");
        }
    }

    #[test]
    fn rejects_bad_defaults() {
        let err = Attribute::new("a".into(), AttributeKind::Boolean, true, false, json!(true)).unwrap_err();
        assert_eq!(err.type_and_status().0, "attribute_default_unsupported");
        assert!(Attribute::new("a".into(), AttributeKind::Boolean, false, false, json!("x")).is_err());
    }
}
