//! The import section: a 10,000-row CSV file imported through `POST /csv/import` as a manager
//! does it from the browser, while employees keep claiming at a steady pace. Reports the
//! import's rows per second (and the re-import's, which must add nothing), and the claims'
//! latency before and during the import: an import must not stall claims.

use crate::measure::Pct;
use crate::target::Pool;
use leadboard_testkit::load::Api;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const ROWS: usize = 10_000;
/// Employees claiming meanwhile, each once per [`EVERY`]: a steady 400 claims/s, well below what
/// the server sustains, so the latency shows the import's effect rather than a queue.
const CLAIMERS: usize = 8;
const EVERY: Duration = Duration::from_millis(20);
const BASELINE: Duration = Duration::from_secs(3);
/// Open leads the claimers may use up: enough for 20 s of claims.
pub const LEADS_NEEDED: usize = CLAIMERS * 50 * 20;

/// A file like a CRM's export: IDs, contacts, tags, created dates.
fn csv() -> String {
    let mut text = String::from("id,name,company,value,contact,email,phone,source,tags,created_at\n");
    for i in 1..=ROWS {
        text.push_str(&format!(
            "I{i:05},Lead {i},Company {c},{v},Person {i},person{i}@example.com,+1 555 {i:07},bench,\"bench, import\",2026-03-01\n",
            c = i % 700,
            v = 100 + i % 9_000,
        ));
    }
    text
}

/// Claims by `apis[..CLAIMERS]`, each on a fresh open lead every [`EVERY`], until `stop`; the
/// latency of each (all must win).
async fn claim_paced(apis: &[Api], pool: &Pool, stop: Arc<AtomicBool>) -> Result<Vec<u64>, String> {
    let workers = apis.iter().take(CLAIMERS).map(|api| {
        let stop = stop.clone();
        async move {
            let mut ns = Vec::new();
            let mut tick = tokio::time::interval(EVERY);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let lead = pool.take(1)?.remove(0);
                let t = Instant::now();
                let (status, body) =
                    api.post("/api/claim", &json!({"lead_id": lead})).await.map_err(|e| e.to_string())?;
                ns.push(t.elapsed().as_nanos() as u64);
                if status != 200 || body["outcome"] != "won" {
                    return Err(format!("claim of {lead} during the import: {status} {body}"));
                }
            }
            Ok::<_, String>(ns)
        }
    });
    let mut all = Vec::new();
    for r in futures::future::join_all(workers).await {
        all.extend(r?);
    }
    Ok(all)
}

/// Posts the file and reads the import's progress stream to its end: the seconds it took and
/// the report.
async fn import(maria: &Api, file: &str) -> Result<(f64, Value), String> {
    let t = Instant::now();
    let res = maria
        .http
        .post(format!("{}/csv/import", maria.base))
        .header("cookie", maria.cookie())
        .header("content-type", "text/csv")
        .body(file.to_owned())
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status();
    let text = res.text().await.map_err(|e| e.to_string())?;
    let secs = t.elapsed().as_secs_f64();
    let last: Value = text.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or(Value::Null);
    if !status.is_success() || last["type"] != "done" {
        return Err(format!("import: {status} {}", text.chars().take(300).collect::<String>()));
    }
    Ok((secs, last))
}

pub async fn section(apis: &[Api], maria: &Api, pool: &Pool) -> Result<Value, String> {
    if apis.len() < CLAIMERS {
        return Err(format!("the import section needs {CLAIMERS} employees"));
    }
    let file = csv();
    let stop = Arc::new(AtomicBool::new(false));
    let stopper = {
        let stop = stop.clone();
        async move {
            tokio::time::sleep(BASELINE).await;
            stop.store(true, Ordering::Relaxed);
        }
    };
    let (before, ()) = tokio::join!(claim_paced(apis, pool, stop.clone()), stopper);
    let before = Pct::of(before?);

    stop.store(false, Ordering::Relaxed);
    let claims = claim_paced(apis, pool, stop.clone());
    let imported = async {
        // Claims run alone for a moment first, so every import batch meets claims.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let r = import(maria, &file).await;
        stop.store(true, Ordering::Relaxed);
        r
    };
    let (during, imported) = tokio::join!(claims, imported);
    let (during, (secs, report)) = (Pct::of(during?), imported?);
    let (again_secs, again) = import(maria, &file).await?;

    let added = report["added"].as_u64().unwrap_or(0) as usize;
    let added_again = again["added"].as_u64().unwrap_or(u64::MAX);
    let result = json!({
        "rows": ROWS, "bytes": file.len(), "seconds": secs, "rows_per_second": ROWS as f64 / secs,
        "added": added, "refused": report["refused"].as_array().map_or(0, Vec::len),
        "reimport_seconds": again_secs, "reimport_added": added_again,
        "claims_per_second": CLAIMERS as f64 / EVERY.as_secs_f64(),
        "claim_latency_before": before.json(), "claim_latency_during": during.json(),
    });
    println!(
        "\nImport: {ROWS} rows ({:.1} MB) in {secs:.2} s ({:.0} rows/s), {added} added; the same file again in \
         {again_secs:.2} s, {added_again} added.\nClaims at {:.0}/s meanwhile: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms \
         (before the import: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} and {} claims)",
        file.len() as f64 / 1e6,
        ROWS as f64 / secs,
        CLAIMERS as f64 / EVERY.as_secs_f64(),
        during.p50,
        during.p99,
        during.max,
        before.p50,
        before.p99,
        before.max,
        during.n,
        before.n
    );
    if added != ROWS || added_again != 0 {
        return Err(format!("the import added {added} of {ROWS} rows, the re-import {added_again} (must be 0)"));
    }
    Ok(result)
}
