//! SQL for `schedules`: one cron schedule per background job.

use sqlx::{Any, Executor, Row};

use frontend::types::{Schedule, ScheduleKind};

use super::{DbResult, now_ms};

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    /// Job name (`gc`, `retention:<id>`).
    pub name: String,
    /// When it fires: Harbor's schedule type and its six-field cron expression.
    pub schedule: Schedule,
    /// The job's parameters as JSON.
    pub parameters: String,
    /// When it fires next, unix milliseconds (none when unscheduled).
    pub next_run_at: Option<i64>,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
    /// Last change, unix milliseconds.
    pub updated_at: i64,
}

fn from_row(r: &sqlx::any::AnyRow) -> DbResult<ScheduleRow> {
    // One field from two columns (the schedule type and its cron), so read by hand.
    let kind = ScheduleKind::try_from(r.try_get::<String, _>("kind")?)
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(ScheduleRow {
        name: r.try_get("name")?,
        schedule: Schedule::new(kind, r.try_get("cron")?),
        parameters: r.try_get("parameters")?,
        next_run_at: r.try_get("next_run_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const COLUMNS: &str = "name, kind, cron, parameters, next_run_at, created_at, updated_at";

/// Schedule `name`, if set.
pub async fn get<'e>(e: impl Executor<'e, Database = Any>, name: &str) -> DbResult<Option<ScheduleRow>> {
    let sql = format!("SELECT {COLUMNS} FROM schedules WHERE name = $1");
    sqlx::query(&sql).bind(name).fetch_optional(e).await?.as_ref().map(from_row).transpose()
}

/// Creates or replaces schedule `name`.
pub async fn put<'e>(
    e: impl Executor<'e, Database = Any>,
    name: &str,
    schedule: &Schedule,
    parameters: &str,
    next_run_at: Option<i64>,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO schedules (name, kind, cron, parameters, next_run_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, \
         cron = excluded.cron, parameters = excluded.parameters, next_run_at = excluded.next_run_at, \
         updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(schedule.kind().as_str())
    .bind(schedule.cron())
    .bind(parameters)
    .bind(next_run_at)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(())
}

/// Removes schedule `name`.
pub async fn delete<'e>(e: impl Executor<'e, Database = Any>, name: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM schedules WHERE name = $1").bind(name).execute(e).await?;
    Ok(())
}

/// Schedules due at `now`.
pub async fn due<'e>(e: impl Executor<'e, Database = Any>, now: i64) -> DbResult<Vec<ScheduleRow>> {
    let sql = format!("SELECT {COLUMNS} FROM schedules WHERE next_run_at IS NOT NULL AND next_run_at <= $1");
    sqlx::query(&sql).bind(now).fetch_all(e).await?.iter().map(from_row).collect()
}

/// Moves schedule `name` from firing at `seen` to `next`; true for exactly one caller per firing,
/// which then runs the job (the others saw `next_run_at` change under them).
pub async fn claim_firing<'e>(
    e: impl Executor<'e, Database = Any>,
    name: &str,
    seen: i64,
    next: Option<i64>,
) -> DbResult<bool> {
    let done = sqlx::query("UPDATE schedules SET next_run_at = $1 WHERE name = $2 AND next_run_at = $3")
        .bind(next)
        .bind(name)
        .bind(seen)
        .execute(e)
        .await?;
    Ok(done.rows_affected() == 1)
}
