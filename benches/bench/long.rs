//! The long linearizability run: a mixed load, recorded and checked.

use crate::args::Args;
use crate::target::Pool;
use leadboard_testkit::load::{self, Api, Until};
use linearizability::{self as history, Recorder};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
pub async fn long_section(args: &Args, apis: &[Api], maria: &Api, pool: &Pool) -> Result<Value, String> {
    let leads = pool.take(4)?;
    let rec = Arc::new(Recorder::new());
    load::record_initial(maria, &rec, &leads).await?;
    let employees: Vec<Api> = apis.iter().take(32).cloned().collect();
    let n_emp = employees.len();
    let secs = Duration::from_secs(args.long_secs);
    load::mixed_load(
        employees,
        Some(maria.clone()),
        leads.clone(),
        Until { min: secs, max: secs, enough: None },
        rec.clone(),
    )
    .await;
    let h = rec.history();
    let t = Instant::now();
    let result = history::check(&h);
    let check_secs = t.elapsed().as_secs_f64();
    let tally: BTreeMap<_, _> = history::tally(&h).into_iter().collect();
    let (ok, message, states) = match &result {
        Ok(r) => (true, "linearizable".to_owned(), r.states),
        Err(v) => (false, v.to_string(), 0),
    };
    Ok(json!({
        "seconds": args.long_secs, "leads": leads, "employees": n_emp, "managers": 1,
        "operations": h.ops.len(), "by_kind": tally, "linearizable": ok, "inconclusive": result.as_ref().err().is_some_and(|v| v.inconclusive),
        "exercised": load::exercised(&h),
        "result": message, "states_searched": states, "check_seconds": check_secs,
    }))
}
