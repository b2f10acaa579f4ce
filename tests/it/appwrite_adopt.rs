//! A team that already has its leads in Appwrite (the browser-only setup): its own database,
//! collection and attribute names, the assignee as an email address, and old clients that keep
//! writing it with a plain `updateDocument`. `appwrite setup --dry-run` says what it would add,
//! `setup` adds only Leadboard's own attributes and collections and the lead details the team
//! has no attribute for (a detail can be mapped onto the team's), and Leadboard works on it.

use leadboard::server::config::{AssigneeForm, LeadsMapping, OptionalField};
use leadboard::server::store::appwrite::schema;
use leadboard_testkit::appwrite::{Appwrite, Replica, Version};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

per_version!(a_teams_own_collection_is_adopted_without_touching_its_data, [V1_5, V1_8, V1_9_6]);

const CRM: &str = "/databases/crm/collections/deals";

/// The team's collection as the old browser client made it, with three deals in it.
async fn the_teams_collection(aw: &Appwrite) {
    let call = |m: Method, p: String, b: Value| async move {
        let (s, body) = aw.call(m, &p, Some(b)).await;
        assert!(s == 201 || s == 202, "{p}: {s} {body}");
    };
    call(Method::POST, "/databases".into(), json!({"databaseId": "crm", "name": "CRM"})).await;
    let collection = json!({"collectionId": "deals", "name": "Deals", "permissions": ["read(\"users\")", "update(\"users\")"], "documentSecurity": false});
    call(Method::POST, "/databases/crm/collections".into(), collection).await;
    for (kind, body) in [
        ("string", json!({"key": "title", "size": 200, "required": true})),
        ("string", json!({"key": "account", "size": 200, "required": false})),
        ("integer", json!({"key": "amount", "required": true})),
        ("string", json!({"key": "owner_email", "size": 320, "required": false})),
        ("string", json!({"key": "notes", "size": 1000, "required": false})),
        ("string", json!({"key": "mobile", "size": 40, "required": false})),
    ] {
        call(Method::POST, format!("{CRM}/attributes/{kind}"), body).await;
    }
    for (id, title, owner) in [
        ("D-1", "Acme renewal", Some("bob@users.leadboard.invalid")),
        ("D-2", "Globex pilot", None),
        ("D-3", "Initech", None),
    ] {
        let data = json!({"title": title, "amount": 1200, "owner_email": owner, "notes": "the team's own", "mobile": "+1 555 0100"});
        call(Method::POST, format!("{CRM}/documents"), json!({"documentId": id, "data": data})).await;
    }
}

fn mapping() -> LeadsMapping {
    LeadsMapping {
        database: Some("crm".into()),
        collection: "deals".into(),
        name: "title".into(),
        company: "account".into(),
        value: "amount".into(),
        assignee: "owner_email".into(),
        assignee_holds: AssigneeForm::Email,
        optional: vec![OptionalField::Company],
        phone: "mobile".into(),
        ..Default::default()
    }
}

async fn attribute_keys(aw: &Appwrite) -> Vec<String> {
    let (_, list) = aw.call(Method::GET, &format!("{CRM}/attributes"), None).await;
    let mut keys: Vec<String> =
        list["attributes"].as_array().unwrap().iter().map(|a| a["key"].as_str().unwrap().to_owned()).collect();
    keys.sort();
    keys
}

async fn a_teams_own_collection_is_adopted_without_touching_its_data(v: Version) {
    let mut aw = Appwrite::bare(v, 0).await;
    the_teams_collection(&aw).await;
    aw.cfg.leads = mapping();
    let before = attribute_keys(&aw).await;

    let mut wrong = aw.cfg.clone();
    wrong.leads.source = "amount".into();
    let err = schema::run(&wrong, true).await.unwrap_err().to_string();
    assert!(
        err.contains("deals.amount is an integer attribute; Leadboard needs a single string"),
        "a detail must be a string: {err}"
    );
    let plan = schema::run(&aw.cfg, true).await.unwrap();
    assert!(plan.dry_run);
    let own = ["version", "claimed_at", "updated_by", "incarnation", "lease_until", "extensions", "outcome"];
    let own =
        own.into_iter().chain(["outcome_note", "last_change", "contact", "email", "source", "tags", "created_at"]);
    for own in own {
        assert!(plan.created.contains(&format!("attribute deals.{own}")), "{:?}", plan.created);
    }
    assert!(
        !plan.created.iter().any(|c| c.contains("deals.mobile") || c.contains("deals.phone")),
        "{:?}",
        plan.created
    );
    assert!(plan.created.iter().any(|c| c == "collection claims"), "{:?}", plan.created);
    assert!(!plan.created.iter().any(|c| c.contains("deals.title") || c == "collection deals"), "{:?}", plan.created);
    assert_eq!(attribute_keys(&aw).await, before, "a dry run changes nothing");
    let (s, _) = aw.call(Method::GET, "/databases/leadboard", None).await;
    assert_eq!(s, 404, "a dry run creates nothing");

    let done = aw.setup().await;
    assert_eq!(done.created.iter().filter(|c| c.starts_with("attribute deals.")).count(), 14, "{:?}", done.created);
    let mut after = attribute_keys(&aw).await;
    after.retain(|k| !before.contains(k));
    let added = [
        "claimed_at",
        "contact",
        "created_at",
        "email",
        "extensions",
        "incarnation",
        "last_change",
        "lease_until",
        "outcome",
        "outcome_note",
        "source",
        "tags",
        "updated_by",
        "version",
    ];
    assert_eq!(after, added, "Leadboard's own attributes and the details the team has none for");
    assert!(done.notes.is_empty(), "the team's collection is readable by users: {:?}", done.notes);
    assert!(aw.setup().await.created.is_empty(), "a second run adds nothing");

    // The accounts first (the owners' addresses must be Appwrite users' to be recognised).
    aw.seed(&Replica::start(&aw).await, 0, 0).await;
    let a = Replica::start(&aw).await;
    let alice = a.client("alice").await;
    let (_, leads) = alice.post("/api/leads", json!({})).await;
    let d1 = leads["leads"].as_array().unwrap().iter().find(|l| l["id"] == "D-1").cloned().expect("D-1 on the board");
    assert_eq!(
        (d1["name"].as_str(), d1["assignee"].as_str(), d1["company"].as_str(), d1["phone"].as_str()),
        (Some("Acme renewal"), Some("bob"), Some(""), Some("+1 555 0100")),
        "the team's mobile attribute is the lead's phone"
    );
    assert!(d1["created_at"].is_i64(), "a document without a created time shows its $createdAt: {d1}");

    let (_, won) = alice.post("/api/claim", json!({"lead_id": "D-2"})).await;
    assert_eq!(won["outcome"], "won", "{won}");
    let doc = aw.lead_doc("D-2").await;
    assert_eq!(doc["owner_email"], "alice@users.leadboard.invalid", "the assignee is written as the team writes it");
    assert_eq!((doc["title"].as_str(), doc["notes"].as_str()), (Some("Globex pilot"), Some("the team's own")));
    let (_, lost) = a.client("bob").await.post("/api/claim", json!({"lead_id": "D-2"})).await;
    assert_eq!((lost["outcome"].as_str(), lost["winner"].as_str()), (Some("lost"), Some("alice")), "{lost}");

    // An old client keeps writing the assignee with a plain update: picked up and flagged.
    let mut board = a.board("alice").await;
    let (s, _) = aw.plain_update("D-2", json!({"owner_email": "carol@users.leadboard.invalid"})).await;
    assert_eq!(s, 200);
    assert!(board.until(Duration::from_secs(20), |bd| bd.lost_by("alice").is_some()).await, "alice is told");
    assert_eq!(board.lost_by("alice").unwrap().lead.assignee.as_ref().map(|u| u.as_str()), Some("carol"));
}
