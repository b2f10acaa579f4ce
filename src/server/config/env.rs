//! The environment layer: `LEADBOARD_<NAME>` sets any setting. NAME is the setting's key path in
//! upper case with `_` for `.`, without the section name for the three flat sections `app`,
//! `security` and `store`: `app.site_addr` is `LEADBOARD_SITE_ADDR`, `security.claims_per_minute`
//! is `LEADBOARD_CLAIMS_PER_MINUTE`, `store.appwrite.endpoint` is `LEADBOARD_APPWRITE_ENDPOINT`,
//! `claims.lease_minutes` is `LEADBOARD_CLAIMS_LEASE_MINUTES`, and `store.kind` is
//! `LEADBOARD_STORE`. A flat section's key is looked up before the named sections, so
//! `LEADBOARD_CLAIMS_PER_MINUTE` stays `security.claims_per_minute`. Values are handed on as text (numbers and booleans are
//! read from text where a setting wants one); an empty variable counts as unset. Variables that
//! name no setting (`LEADBOARD_CONFIG`, `LEADBOARD_PASSWORD`, a tool's own) are left alone.

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

const PREFIX: &str = "LEADBOARD_";

/// Sections whose settings are named with the section's own name first (`LEADBOARD_SQLITE_PATH`).
const NAMED_SECTIONS: [(&str, &str); 3] =
    [("sqlite", "store.sqlite"), ("appwrite", "store.appwrite"), ("claims", "claims")];

pub(super) struct Environment {
    /// The keys of the flat sections `app` and `security`, by section.
    flat: Vec<(&'static str, Vec<String>)>,
}

impl Environment {
    /// `flat`: the sections whose keys are named without the section, with their keys.
    pub(super) fn new(flat: Vec<(&'static str, Vec<String>)>) -> Self {
        Self { flat }
    }

    /// The key path a variable (without the prefix, lower case) sets, if it names a setting.
    fn path_of(&self, name: &str) -> Option<Vec<String>> {
        if name == "store" {
            return Some(vec!["store".into(), "kind".into()]);
        }
        if let Some((section, _)) = self.flat.iter().find(|(_, keys)| keys.iter().any(|k| k == name)) {
            return Some(vec![(*section).into(), name.into()]);
        }
        NAMED_SECTIONS.iter().find_map(|(short, section)| {
            let key = name.strip_prefix(short)?.strip_prefix('_')?;
            Some(section.split('.').map(str::to_owned).chain([key.to_owned()]).collect())
        })
    }
}

/// The variable that sets the setting at `path`.
pub(super) fn var_name(path: &[&str]) -> String {
    let name = match path {
        ["store", "kind"] => "store".to_owned(),
        ["app" | "security" | "store", rest @ ..] => rest.join("_"),
        other => other.join("_"),
    };
    format!("{PREFIX}{}", name.to_uppercase())
}

fn insert(dict: &mut Dict, path: &[String], value: Value) {
    match path {
        [] => {}
        [leaf] => {
            dict.insert(leaf.clone(), value);
        }
        [head, rest @ ..] => {
            let child = dict.entry(head.clone()).or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = child {
                insert(inner, rest, value);
            }
        }
    }
}

impl Provider for Environment {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable").interpolater(|_: &Profile, path: &[&str]| var_name(path))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (name, value) in std::env::vars() {
            let Some(name) = name.strip_prefix(PREFIX) else { continue };
            if value.is_empty() {
                continue;
            }
            if let Some(path) = self.path_of(&name.to_ascii_lowercase()) {
                insert(&mut dict, &path, Value::from(value));
            }
        }
        Ok(Profile::Default.collect(dict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_follow_the_key_paths() {
        assert_eq!(var_name(&["app", "site_addr"]), "LEADBOARD_SITE_ADDR");
        assert_eq!(var_name(&["store", "kind"]), "LEADBOARD_STORE");
        assert_eq!(var_name(&["store", "appwrite", "api_key"]), "LEADBOARD_APPWRITE_API_KEY");
        assert_eq!(var_name(&["security", "claims_per_minute"]), "LEADBOARD_CLAIMS_PER_MINUTE");
        let env =
            Environment::new(vec![("app", vec!["site_addr".into()]), ("security", vec!["claims_per_minute".into()])]);
        for path in [
            &["app", "site_addr"][..],
            &["store", "kind"],
            &["store", "sqlite", "path"],
            &["store", "appwrite", "endpoint"],
            &["security", "claims_per_minute"],
            &["claims", "lease_minutes"],
        ] {
            let name = var_name(path).strip_prefix(PREFIX).unwrap().to_ascii_lowercase();
            assert_eq!(env.path_of(&name).unwrap(), path, "{name} names {path:?}");
        }
        assert_eq!(env.path_of("password"), None, "not a setting");
        assert_eq!(env.path_of("config"), None);
    }
}
