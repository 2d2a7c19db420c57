//! A project's Retention tab: rules in plain words, add and remove rules, the schedule, dry run
//! and run now, and the execution history with each repository's result and log.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::page_param;
use super::project::{ProjectFrame, project_resource};
use crate::api::{
    DeleteRetentionRule, RunRetention, SaveRetentionRule, SetRetentionSchedule, retention_page,
};
use crate::components::{CsrfField, Failure, Pager, When, first_error};
use crate::types::{NewRetentionRule, RetentionTemplate, ScheduleKind};

/// `/projects/:project/retention?page=`
#[component]
pub fn RetentionPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("project").unwrap_or_default();
    let page = move || page_param(query.read().get("page"));
    let add = ServerAction::<SaveRetentionRule>::new();
    let remove = ServerAction::<DeleteRetentionRule>::new();
    let schedule = ServerAction::<SetRetentionSchedule>::new();
    let run = ServerAction::<RunRetention>::new();
    let versions =
        move || add.version().get() + remove.version().get() + schedule.version().get() + run.version().get();
    let view_data =
        Resource::new_blocking(move || (name(), page(), versions()), |(n, p, _)| retention_page(n, p));
    view! {
        <ProjectFrame current="retention" project=project_resource() />
        <p class="muted">
            "Rules say which artifacts to keep; in every repository a rule applies to, the artifacts no rule keeps are deleted (their layers go at the next garbage collection). Rules add up: an artifact kept by any rule stays, with all its tags."
        </p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let v = match view_data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                let project = name();
                let (p_rules, p_add, p_schedule, p_run) = (project.clone(), project.clone(), project.clone(), project.clone());
                let (page, pages, total) = (v.executions.page, v.executions.pages(), v.executions.total);
                let policy_id = v.policy_id;
                let schedule_kind = v.schedule.kind();
                let cron = v.schedule.cron().to_owned();
                view! {
                    <section class="card">
                        <h2>"Rules"</h2>
                        {if v.rules.is_empty() {
                            view! { <p class="empty">"No retention rules: nothing is deleted. Add a rule below to create the policy."</p> }.into_any()
                        } else {
                            view! {
                                <ol class="rules">
                                    {v.rules.into_iter().enumerate().map(move |(i, r)| {
                                        let project = p_rules.clone();
                                        let edit = r.form.clone().map(|form| {
                                            let project = project.clone();
                                            view! {
                                                <details class="edit">
                                                    <summary>"Edit"</summary>
                                                    <RuleForm action=add project=project index=Some(i) rule=form submit="Save rule" />
                                                </details>
                                            }
                                        });
                                        view! {
                                            <li class:muted=r.disabled>
                                                <span>{r.text}</span>
                                                {edit}
                                                <ActionForm action=remove attr:class="inline">
                                                    <CsrfField />
                                                    <input type="hidden" name="project" value=project />
                                                    <input type="hidden" name="index" value=i.to_string() />
                                                    <button type="submit" class="danger small" aria-label=format!("Delete rule {}", i + 1)>"Delete"</button>
                                                </ActionForm>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ol>
                            }.into_any()
                        }}
                        <h3>"Add a rule"</h3>
                        <RuleForm action=add project=p_add index=None rule=NewRetentionRule::default_rule() submit="Add rule" />
                        <p class="muted small">"Patterns: " <code>"*"</code> " any characters but /, " <code>"**"</code> " anything, " <code>"{a,b}"</code> " either; separate several with commas."</p>
                    </section>
                    {policy_id.map(|_| view! {
                        <section class="card">
                            <h2>"Schedule and runs"</h2>
                            <p>{if cron.is_empty() { "Runs only when started here.".to_owned() } else { format!("Runs on cron {cron}; next run {}.", v.next.clone().unwrap_or_default()) }}</p>
                            <ActionForm action=schedule attr:class="row">
                                <CsrfField />
                                <input type="hidden" name="project" value=p_schedule />
                                <select name="kind" aria-label="Schedule">
                                    {ScheduleKind::ALL.into_iter().map(|k| {
                                        view! { <option value=k.as_str() selected=schedule_kind == k>{k.as_str()}</option> }
                                    }).collect_view()}
                                </select>
                                <input name="cron" placeholder="0 0 3 * * * (custom)" value=cron.clone() aria-label="Cron" />
                                <button type="submit">"Save schedule"</button>
                            </ActionForm>
                            <ActionForm action=run attr:class="row">
                                <CsrfField />
                                <input type="hidden" name="project" value=p_run />
                                <button type="submit" name="dry_run" value="on">"Dry run"</button>
                                <button type="submit" class="primary">"Run now"</button>
                            </ActionForm>
                        </section>
                    })}
                    <h2>"History"</h2>
                    {if v.executions.items.is_empty() {
                        view! { <p class="empty">"No run yet. A dry run shows what a run would delete, without deleting."</p> }.into_any()
                    } else {
                        let id = policy_id.unwrap_or_default();
                        let n = project.clone();
                        view! {
                            <table class="list">
                                <thead><tr><th>"Run"</th><th>"Trigger"</th><th>"Status"</th><th>"Started"</th><th>"Took"</th><th>"Repositories (retained / total)"</th></tr></thead>
                                <tbody>
                                    {v.executions.items.into_iter().map(|e| view! {
                                        <tr>
                                            <td class="num">{e.id}</td>
                                            <td>{e.trigger.as_str()}{e.dry_run.then_some(" (dry run)")}</td>
                                            <td><span class=format!("status {}", e.status.as_str().to_lowercase())>{e.status.as_str()}</span></td>
                                            <td><When at=e.started /></td>
                                            <td class="num">{e.took_ms.map(|ms| format!("{:.1} s", ms as f64 / 1000.0)).unwrap_or_else(|| "running".into())}</td>
                                            <td>
                                                {if e.tasks.is_empty() { view! { <span class="muted">"no repository in scope"</span> }.into_any() } else {
                                                    view! {
                                                        <ul class="tasks">
                                                            {e.tasks.into_iter().map(|t| view! {
                                                                <li>
                                                                    {t.repository}": "{t.retained}" / "{t.total}" "
                                                                    <a href=format!("/api/v2.0/retentions/{id}/executions/{}/tasks/{}", e.id, t.id)>"log"</a>
                                                                </li>
                                                            }).collect_view()}
                                                        </ul>
                                                    }.into_any()
                                                }}
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <Pager page pages total href=move |p| format!("/projects/{n}/retention?page={p}") />
                        }.into_any()
                    }}
                }
                    .into_any()
            })}
        </Suspense>
        {move || first_error([
            add.value().get(),
            remove.value().get(),
            schedule.value().get(),
            run.value().get().map(|r| r.map(|_| ())),
        ])}
    }
}

impl NewRetentionRule {
    /// What the add form starts with.
    fn default_rule() -> Self {
        Self {
            template: RetentionTemplate::LatestPushedK,
            count: 10,
            repo_pattern: "**".into(),
            tag_pattern: "**".into(),
            untagged: true,
            ..Default::default()
        }
    }
}

/// The rule form: adds a rule, or with `index` replaces that rule.
#[component]
fn RuleForm(
    action: ServerAction<SaveRetentionRule>,
    project: String,
    index: Option<usize>,
    rule: NewRetentionRule,
    submit: &'static str,
) -> impl IntoView {
    view! {
        <ActionForm action=action attr:class="rule-form">
            <CsrfField />
            <input type="hidden" name="project" value=project />
            {index.map(|i| view! { <input type="hidden" name="index" value=i.to_string() /> })}
            <label>"Retain "
                <select name="template" aria-label="Template">
                    {RetentionTemplate::ALL.into_iter().map(|t| view! { <option value=t.as_str() selected=rule.template == t>{t.label()}</option> }).collect_view()}
                </select>
            </label>
            <label>"# " <input name="count" type="number" min="0" value=rule.count.to_string() class="short" aria-label="Count or days" /></label>
            <label>"in repositories "
                <select name="repo_decoration" aria-label="Repositories">
                    <option value="repoMatches" selected=!rule.repo_excludes>"matching"</option>
                    <option value="repoExcludes" selected=rule.repo_excludes>"excluding"</option>
                </select>
                <input name="repo_pattern" value=rule.repo_pattern aria-label="Repository pattern" />
            </label>
            <label>"with tags "
                <select name="tag_decoration" aria-label="Tags">
                    <option value="matches" selected=!rule.tag_excludes>"matching"</option>
                    <option value="excludes" selected=rule.tag_excludes>"excluding"</option>
                </select>
                <input name="tag_pattern" value=rule.tag_pattern aria-label="Tag pattern" />
            </label>
            <label>"labelled " <input name="labels" value=rule.labels placeholder="e.g. release (empty: any)" aria-label="Labels" /></label>
            <label class="check"><input type="checkbox" name="untagged" checked=rule.untagged />" including untagged artifacts"</label>
            <button type="submit" class="primary">{submit}</button>
        </ActionForm>
    }
}
