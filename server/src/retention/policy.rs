//! A retention policy in Harbor's JSON shape, its validation, and the compiled form the
//! evaluator runs. A policy written for Harbor's `/api/v2.0/retentions` means the same here.

use std::collections::BTreeMap;

use frontend::types::{NewRetentionRule, RetentionTemplate};
use serde::{Deserialize, Serialize};

use super::pattern::Pattern;

/// Harbor's limit on rules per policy.
pub const MAX_RULES: usize = 15;

/// A day, in milliseconds.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Harbor's `RetentionPolicy`.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct PolicyDoc {
    /// Policy id (answers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Always `or`.
    #[serde(default = "or")]
    pub algorithm: String,
    /// The rules, combined with `or`.
    #[serde(default)]
    pub rules: Vec<RuleDoc>,
    /// When it runs.
    #[serde(default)]
    pub trigger: TriggerDoc,
    /// The project it applies to.
    #[serde(default)]
    pub scope: ScopeDoc,
}

fn or() -> String {
    "or".into()
}

/// Harbor's `RetentionRule`.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct RuleDoc {
    /// Rule id (position), as Harbor numbers them.
    #[serde(default)]
    pub id: i64,
    /// Harbor keeps it; it does not change the outcome (rules are `or`ed).
    #[serde(default)]
    pub priority: i64,
    /// A disabled rule retains nothing and selects no repository.
    #[serde(default)]
    pub disabled: bool,
    /// Always `retain`.
    #[serde(default = "retain")]
    pub action: String,
    /// `latestPushedK`, `latestPulledN`, `latestActiveK`, `nDaysSinceLastPush`,
    /// `nDaysSinceLastPull` or `always`.
    pub template: String,
    /// The template's parameter, keyed by the template's name.
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
    /// Tag selectors (all must select).
    #[serde(default)]
    pub tag_selectors: Vec<SelectorDoc>,
    /// `{"repository": [selectors]}` (all must select).
    #[serde(default)]
    pub scope_selectors: BTreeMap<String, Vec<SelectorDoc>>,
}

fn retain() -> String {
    "retain".into()
}

impl RuleDoc {
    /// The rule the portal's form describes: one repository selector and one tag selector.
    pub fn from_form(form: &NewRetentionRule) -> Self {
        let selector = |decoration: &str, pattern: &str, extras: String| SelectorDoc {
            kind: "doublestar".into(),
            decoration: decoration.into(),
            pattern: pattern.into(),
            extras,
        };
        let template = form.template.as_str();
        Self {
            action: retain(),
            params: form
                .template
                .unit()
                .map(|_| (template.to_owned(), serde_json::json!(form.count)))
                .into_iter()
                .collect(),
            tag_selectors: std::iter::once(selector(
                if form.tag_excludes { "excludes" } else { "matches" },
                &form.tag_pattern,
                serde_json::json!({ "untagged": form.untagged }).to_string(),
            ))
            .chain(label_selector(&form.labels))
            .collect(),
            scope_selectors: [(
                "repository".to_owned(),
                vec![selector(
                    if form.repo_excludes { "repoExcludes" } else { "repoMatches" },
                    &form.repo_pattern,
                    String::new(),
                )],
            )]
            .into_iter()
            .collect(),
            template: template.to_owned(),
            ..Default::default()
        }
    }

    /// The rule's fields for the portal's edit form, when it has the form's shape (a known
    /// template, one selector of each kind).
    pub fn form(&self) -> Option<NewRetentionRule> {
        let template = RetentionTemplate::parse(&self.template)?;
        let (tag, labels) = match self.tag_selectors.as_slice() {
            [tag] => (tag, String::new()),
            [tag, label] if label.kind == "label" && label.decoration == "withLabels" => {
                (tag, label.pattern.clone())
            }
            _ => return None,
        };
        let [repo] = self.scope_selectors.get("repository")?.as_slice() else { return None };
        let tag_excludes = tag.decoration == "excludes";
        let untagged = serde_json::from_str::<serde_json::Value>(&tag.extras)
            .ok()
            .and_then(|e| e.get("untagged").and_then(serde_json::Value::as_bool))
            .unwrap_or(!tag_excludes);
        Some(NewRetentionRule {
            template,
            count: self.params.get(&self.template).and_then(serde_json::Value::as_i64).unwrap_or(0),
            repo_excludes: repo.decoration == "repoExcludes",
            repo_pattern: repo.pattern.clone(),
            tag_excludes,
            tag_pattern: tag.pattern.clone(),
            untagged,
            labels,
        })
    }
}

/// The `withLabels` selector the portal's forms write for `names` (comma-separated), if any.
pub fn label_selector(names: &str) -> Option<SelectorDoc> {
    let sel = LabelSelector::new(false, [names])?;
    Some(SelectorDoc {
        kind: "label".into(),
        decoration: "withLabels".into(),
        pattern: sel.names.join(","),
        extras: String::new(),
    })
}

/// Harbor's `RetentionSelector`.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct SelectorDoc {
    /// `doublestar` (the default), or `label` for a tag selector that looks at the artifact's
    /// labels.
    #[serde(default)]
    pub kind: String,
    /// `matches`/`excludes` for tags, `repoMatches`/`repoExcludes` for repositories,
    /// `withLabels`/`withoutLabels` for labels.
    pub decoration: String,
    /// A doublestar pattern or a comma-separated list of them; for labels, label names
    /// separated by commas.
    pub pattern: String,
    /// JSON in a string: `{"untagged": bool}` for tag selectors.
    #[serde(default)]
    pub extras: String,
}

/// Harbor's `RetentionRuleTrigger`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TriggerDoc {
    /// Always `Schedule`.
    #[serde(default = "schedule")]
    pub kind: String,
    /// `{"cron": "<6-field cron>"}`; an empty cron means manual runs only.
    #[serde(default)]
    pub settings: TriggerSettings,
    /// Harbor's job references (kept as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<serde_json::Value>,
}

fn schedule() -> String {
    "Schedule".into()
}

impl Default for TriggerDoc {
    fn default() -> Self {
        Self { kind: schedule(), settings: TriggerSettings::default(), references: None }
    }
}

/// The trigger's settings.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct TriggerSettings {
    /// Harbor's 6-field cron, or empty.
    #[serde(default)]
    pub cron: String,
}

/// Harbor's `RetentionPolicyScope`.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct ScopeDoc {
    /// Always `project`.
    #[serde(default)]
    pub level: String,
    /// The project id.
    #[serde(default, rename = "ref")]
    pub reference: i64,
}

/// What a rule keeps of the artifacts its tag selectors chose, per repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// The K most recently pushed.
    LatestPushed(usize),
    /// The N most recently pulled.
    LatestPulled(usize),
    /// The K most recently pushed or pulled.
    LatestActive(usize),
    /// Those pushed within N days.
    DaysSincePush(i64),
    /// Those pulled within N days.
    DaysSincePull(i64),
    /// All of them.
    Always,
}

impl Template {
    /// The template's name and parameter as Harbor writes them.
    pub fn name(self) -> &'static str {
        match self {
            Self::LatestPushed(_) => RetentionTemplate::LatestPushedK,
            Self::LatestPulled(_) => RetentionTemplate::LatestPulledN,
            Self::LatestActive(_) => RetentionTemplate::LatestActiveK,
            Self::DaysSincePush(_) => RetentionTemplate::NDaysSinceLastPush,
            Self::DaysSincePull(_) => RetentionTemplate::NDaysSinceLastPull,
            Self::Always => RetentionTemplate::Always,
        }
        .as_str()
    }

    /// The template in plain words.
    pub fn describe(self) -> String {
        match self {
            Self::LatestPushed(k) => format!("the {k} most recently pushed artifacts"),
            Self::LatestPulled(n) => format!("the {n} most recently pulled artifacts"),
            Self::LatestActive(k) => format!("the {k} most recently pushed or pulled artifacts"),
            Self::DaysSincePush(n) => format!("the artifacts pushed within the last {n} days"),
            Self::DaysSincePull(n) => format!("the artifacts pulled within the last {n} days"),
            Self::Always => "always all artifacts".into(),
        }
    }

    /// The cut-off time for the day templates, given `now`.
    pub fn since(days: i64, now: i64) -> i64 {
        now.saturating_sub(days.saturating_mul(DAY_MS))
    }
}

/// A repository selector.
#[derive(Debug, Clone)]
pub struct RepoSelector {
    /// `repoExcludes` rather than `repoMatches`.
    pub exclude: bool,
    /// The pattern.
    pub pattern: Pattern,
}

impl RepoSelector {
    /// Whether the selector chooses repository `name` (the path inside the project).
    pub fn selects(&self, name: &str) -> bool {
        self.pattern.matches(name) != self.exclude
    }
}

/// A tag selector.
#[derive(Debug, Clone)]
pub struct TagSelector {
    /// `excludes` rather than `matches`.
    pub exclude: bool,
    /// The pattern.
    pub pattern: Pattern,
    /// Whether untagged artifacts are chosen.
    pub untagged: bool,
}

impl TagSelector {
    /// Harbor's rule: an untagged artifact is chosen when `untagged` says so; a tagged one by
    /// `matches` when any tag matches, by `excludes` when none does.
    pub fn selects<'a>(&self, tags: impl Iterator<Item = &'a str>) -> bool {
        let mut any_tag = false;
        let mut hit = false;
        for t in tags {
            any_tag = true;
            if self.pattern.matches(t) {
                hit = true;
                break;
            }
        }
        if !any_tag {
            return self.untagged;
        }
        hit != self.exclude
    }
}

/// A label selector (Harbor's `label` kind): `withLabels` chooses the artifacts that carry
/// every label named, `withoutLabels` those that carry none of them. Labels are matched by
/// name, global and project labels alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector {
    /// `withoutLabels` rather than `withLabels`.
    pub without: bool,
    /// The label names.
    pub names: Vec<String>,
}

impl LabelSelector {
    /// A selector for `names` (comma-separated or one per item; blanks dropped); `None` when no
    /// name is left.
    pub fn new<'a>(without: bool, names: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let mut list: Vec<String> = names
            .into_iter()
            .flat_map(|n| n.split(','))
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        list.sort();
        list.dedup();
        (!list.is_empty()).then_some(Self { without, names: list })
    }

    /// Whether an artifact carrying `labels` is chosen.
    pub fn selects(&self, labels: &[&str]) -> bool {
        let has = |n: &String| labels.contains(&n.as_str());
        if self.without { !self.names.iter().any(has) } else { self.names.iter().all(has) }
    }

    /// The selector in plain words.
    pub fn describe(&self) -> String {
        let names = self.names.join("`, `");
        if self.without { format!("without labels `{names}`") } else { format!("labelled `{names}`") }
    }
}

/// A rule's compiled selectors: repositories, tags and labels (all must choose).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Which repositories.
    pub repos: Vec<RepoSelector>,
    /// Which tags.
    pub tags: Vec<TagSelector>,
    /// Which labels the artifact must (or must not) carry.
    pub labels: Vec<LabelSelector>,
}

impl Selection {
    /// Whether repository `name` is chosen.
    pub fn repository(&self, name: &str) -> bool {
        self.repos.iter().all(|s| s.selects(name))
    }

    /// Whether an artifact with `tags` and `labels` is chosen (repository aside).
    pub fn artifact(&self, tags: &[&str], labels: &[&str]) -> bool {
        self.tags.iter().all(|s| s.selects(tags.iter().copied()))
            && self.labels.iter().all(|s| s.selects(labels))
    }
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its position in the policy, from 1.
    pub number: usize,
    /// What it keeps.
    pub template: Template,
    /// Which repositories and artifacts it considers.
    pub select: Selection,
}

impl Rule {
    /// Whether the rule applies to repository `name`.
    pub fn applies_to(&self, name: &str) -> bool {
        self.select.repository(name)
    }

    /// Whether the rule considers an artifact with `tags` and `labels`.
    pub fn considers(&self, tags: &[&str], labels: &[&str]) -> bool {
        self.select.artifact(tags, labels)
    }

    /// The rule in plain words, as the portal shows it.
    pub fn describe(&self) -> String {
        let repos = self
            .select
            .repos
            .iter()
            .map(|s| format!("{} `{}`", if s.exclude { "not matching" } else { "matching" }, s.pattern))
            .collect::<Vec<_>>()
            .join(" and ");
        let tags = self
            .select
            .tags
            .iter()
            .map(|s| {
                let how = if s.exclude { "excluding" } else { "matching" };
                let untagged = if s.untagged { "including untagged" } else { "excluding untagged" };
                format!("tags {how} `{}` ({untagged})", s.pattern)
            })
            .chain(self.select.labels.iter().map(LabelSelector::describe))
            .collect::<Vec<_>>()
            .join(" and ");
        format!("retain {} in repositories {repos} with {tags}", self.template.describe())
    }
}

/// A validated, compiled policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Enabled rules.
    pub rules: Vec<Rule>,
}

/// Why a policy document was refused, with the rule it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A 400.
    #[error("{0}")]
    Invalid(String),
    /// Two identical rules (Harbor answers 409).
    #[error("rule {0} is the same as rule {1}")]
    Conflict(usize, usize),
}

fn bad(rule: usize, msg: impl std::fmt::Display) -> PolicyError {
    PolicyError::Invalid(format!("rule {rule}: {msg}"))
}

fn param(rule: usize, doc: &RuleDoc) -> Result<i64, PolicyError> {
    let v = doc.params.get(&doc.template).ok_or_else(|| {
        bad(rule, format!("template {} needs the parameter {:?}", doc.template, doc.template))
    })?;
    let n = match v {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| bad(rule, format!("parameter {} must be a whole number", doc.template)))?;
    if !(0..=1_000_000).contains(&n) {
        return Err(bad(rule, format!("parameter {} must be between 0 and 1000000", doc.template)));
    }
    Ok(n)
}

fn pattern(rule: usize, s: &SelectorDoc) -> Result<Pattern, PolicyError> {
    if !s.kind.is_empty() && s.kind != "doublestar" {
        return Err(bad(rule, format!("selector kind {:?} is not supported (use doublestar)", s.kind)));
    }
    s.pattern.trim().parse().map_err(|e| bad(rule, format!("pattern {:?}: {e}", s.pattern)))
}

fn untagged(rule: usize, s: &SelectorDoc, exclude: bool) -> Result<bool, PolicyError> {
    if s.extras.trim().is_empty() {
        return Ok(!exclude);
    }
    #[derive(Deserialize)]
    struct Extras {
        untagged: Option<bool>,
    }
    let e: Extras = serde_json::from_str(&s.extras)
        .map_err(|e| bad(rule, format!("extras must be JSON like {{\"untagged\":true}}: {e}")))?;
    Ok(e.untagged.unwrap_or(!exclude))
}

/// Compiles a rule's repository and tag selectors (Harbor's shapes, shared by retention, tag
/// immutability and replication filters).
pub fn selectors(
    number: usize,
    scope: &BTreeMap<String, Vec<SelectorDoc>>,
    tag_docs: &[SelectorDoc],
) -> Result<Selection, PolicyError> {
    if let Some(other) = scope.keys().find(|k| k.as_str() != "repository") {
        return Err(bad(number, format!("scope selector {other:?} is not supported (use repository)")));
    }
    let repo_docs = scope.get("repository").map(Vec::as_slice).unwrap_or_default();
    if repo_docs.is_empty() {
        return Err(bad(number, "a repository selector is required"));
    }
    let repos = repo_docs
        .iter()
        .map(|s| {
            let exclude = match s.decoration.as_str() {
                "repoMatches" => false,
                "repoExcludes" => true,
                d => {
                    return Err(bad(
                        number,
                        format!("repository decoration {d:?} (use repoMatches or repoExcludes)"),
                    ));
                }
            };
            Ok(RepoSelector { exclude, pattern: pattern(number, s)? })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (label_docs, tag_docs): (Vec<&SelectorDoc>, Vec<&SelectorDoc>) =
        tag_docs.iter().partition(|s| s.kind == "label");
    if tag_docs.is_empty() {
        return Err(bad(number, "a tag selector is required"));
    }
    let labels = label_docs
        .iter()
        .map(|s| {
            let without = match s.decoration.as_str() {
                "withLabels" => false,
                "withoutLabels" => true,
                d => {
                    return Err(bad(
                        number,
                        format!("label decoration {d:?} (use withLabels or withoutLabels)"),
                    ));
                }
            };
            LabelSelector::new(without, [s.pattern.as_str()])
                .ok_or_else(|| bad(number, "a label selector needs at least one label name"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let tags = tag_docs
        .iter()
        .map(|s| {
            let exclude = match s.decoration.as_str() {
                "matches" => false,
                "excludes" => true,
                d => return Err(bad(number, format!("tag decoration {d:?} (use matches or excludes)"))),
            };
            Ok(TagSelector { exclude, pattern: pattern(number, s)?, untagged: untagged(number, s, exclude)? })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Selection { repos, tags, labels })
}

fn compile_rule(number: usize, doc: &RuleDoc) -> Result<Rule, PolicyError> {
    if doc.action != "retain" {
        return Err(bad(number, format!("action {:?} is not supported (use retain)", doc.action)));
    }
    let count = |n: i64| usize::try_from(n).unwrap_or(0);
    let template = match RetentionTemplate::parse(&doc.template) {
        Some(RetentionTemplate::LatestPushedK) => Template::LatestPushed(count(param(number, doc)?)),
        Some(RetentionTemplate::LatestPulledN) => Template::LatestPulled(count(param(number, doc)?)),
        Some(RetentionTemplate::LatestActiveK) => Template::LatestActive(count(param(number, doc)?)),
        Some(RetentionTemplate::NDaysSinceLastPush) => Template::DaysSincePush(param(number, doc)?),
        Some(RetentionTemplate::NDaysSinceLastPull) => Template::DaysSincePull(param(number, doc)?),
        Some(RetentionTemplate::Always) => Template::Always,
        None => {
            let known: Vec<&str> = RetentionTemplate::ALL.iter().map(|t| t.as_str()).collect();
            return Err(bad(
                number,
                format!("template {:?} is not one of {}", doc.template, known.join(", ")),
            ));
        }
    };
    let select = selectors(number, &doc.scope_selectors, &doc.tag_selectors)?;
    Ok(Rule { number, template, select })
}

impl PolicyDoc {
    /// Checks the document as Harbor does and compiles its enabled rules.
    pub fn compile(&self) -> Result<Policy, PolicyError> {
        if !self.algorithm.is_empty() && self.algorithm != "or" {
            return Err(PolicyError::Invalid(format!(
                "algorithm {:?} is not supported (use or)",
                self.algorithm
            )));
        }
        if self.rules.len() > MAX_RULES {
            return Err(PolicyError::Invalid(format!("only {MAX_RULES} rules are allowed at most")));
        }
        let mut seen: Vec<(RuleDoc, usize)> = Vec::new();
        let mut rules = Vec::new();
        for (i, doc) in self.rules.iter().enumerate() {
            let number = i + 1;
            let mut key = doc.clone();
            key.id = 0;
            key.priority = 0;
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                return Err(PolicyError::Conflict(number, *first));
            }
            seen.push((key, number));
            let rule = compile_rule(number, doc)?;
            if !doc.disabled {
                rules.push(rule);
            }
        }
        if !self.trigger.kind.is_empty() && self.trigger.kind != "Schedule" {
            return Err(PolicyError::Invalid(format!(
                "trigger kind {:?} is not supported (use Schedule)",
                self.trigger.kind
            )));
        }
        let cron = self.trigger.settings.cron.trim();
        if !cron.is_empty() {
            cron.parse::<crate::jobs::cron::Cron>()
                .map_err(|e| PolicyError::Invalid(format!("cron: {e}")))?;
        }
        if !self.scope.level.is_empty() && self.scope.level != "project" {
            return Err(PolicyError::Invalid(format!(
                "scope level {:?} is not supported (use project)",
                self.scope.level
            )));
        }
        Ok(Policy { rules })
    }

    /// The schedule's cron expression, if any.
    pub fn cron(&self) -> Option<&str> {
        Some(self.trigger.settings.cron.trim()).filter(|c| !c.is_empty())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A one-selector rule: `repo` is (decoration, pattern), `tag` (decoration, pattern, extras).
    pub(crate) fn rule(
        template: &str,
        n: Option<i64>,
        repo: (&str, &str),
        tag: (&str, &str, &str),
    ) -> RuleDoc {
        RuleDoc {
            template: template.into(),
            action: "retain".into(),
            params: n.map(|n| (template.to_owned(), serde_json::json!(n))).into_iter().collect(),
            tag_selectors: vec![SelectorDoc {
                kind: "doublestar".into(),
                decoration: tag.0.into(),
                pattern: tag.1.into(),
                extras: tag.2.into(),
            }],
            scope_selectors: [(
                "repository".to_owned(),
                vec![SelectorDoc {
                    kind: "doublestar".into(),
                    decoration: repo.0.into(),
                    pattern: repo.1.into(),
                    extras: String::new(),
                }],
            )]
            .into_iter()
            .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn harbors_document_parses_and_compiles() {
        let doc: PolicyDoc = serde_json::from_str(
            r#"{"algorithm":"or","rules":[{"disabled":false,"action":"retain","template":"latestPushedK",
            "params":{"latestPushedK":10},"tag_selectors":[{"kind":"doublestar","decoration":"matches",
            "pattern":"v*","extras":"{\"untagged\":false}"}],"scope_selectors":{"repository":[{"kind":"doublestar",
            "decoration":"repoMatches","pattern":"**"}]}}],"trigger":{"kind":"Schedule","settings":{"cron":"0 0 0 * * *"}},
            "scope":{"level":"project","ref":3}}"#,
        )
        .expect("valid");
        let p = doc.compile().expect("valid");
        assert_eq!(p.rules.len(), 1);
        assert_eq!(p.rules[0].template, Template::LatestPushed(10));
        assert!(!p.rules[0].select.tags[0].untagged);
        assert_eq!(doc.cron(), Some("0 0 0 * * *"));
        assert_eq!(doc.scope.reference, 3);
        assert_eq!(
            p.rules[0].describe(),
            "retain the 10 most recently pushed artifacts in repositories matching `**` with tags matching `v*` (excluding untagged)"
        );
    }

    #[test]
    fn untagged_defaults_follow_the_decoration() {
        let m = rule("always", None, ("repoMatches", "**"), ("matches", "**", "")).clone();
        let e = rule("always", None, ("repoMatches", "**"), ("excludes", "x", ""));
        let doc = PolicyDoc { rules: vec![m, e], ..Default::default() };
        let p = doc.compile().expect("valid");
        assert!(p.rules[0].select.tags[0].untagged);
        assert!(!p.rules[1].select.tags[0].untagged);
    }

    #[test]
    fn invalid_documents_say_why() {
        let ok = rule("latestPushedK", Some(1), ("repoMatches", "**"), ("matches", "**", ""));
        type Mutation = Box<dyn Fn(&mut PolicyDoc)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|d| d.rules[0].template = "nope".into()), "template \"nope\""),
            (Box::new(|d| d.rules[0].params.clear()), "needs the parameter"),
            (
                Box::new(|d| {
                    d.rules[0]
                        .params
                        .insert("latestPushedK".into(), serde_json::json!("x"))
                        .map(drop)
                        .unwrap_or(())
                }),
                "whole number",
            ),
            (Box::new(|d| d.rules[0].tag_selectors[0].pattern = "{a".into()), "unbalanced braces"),
            (Box::new(|d| d.rules[0].tag_selectors[0].decoration = "regex".into()), "tag decoration"),
            (Box::new(|d| d.rules[0].tag_selectors[0].extras = "nope".into()), "extras"),
            (Box::new(|d| d.rules[0].scope_selectors.clear()), "repository selector is required"),
            (Box::new(|d| d.rules[0].action = "delete".into()), "action"),
            (Box::new(|d| d.trigger.settings.cron = "every day".into()), "cron"),
            (Box::new(|d| d.algorithm = "and".into()), "algorithm"),
            (Box::new(|d| d.scope.level = "system".into()), "scope level"),
            (
                Box::new(|d| {
                    let r = d.rules[0].clone();
                    d.rules = (0..16)
                        .map(|i| {
                            let mut r = r.clone();
                            r.params.insert("latestPushedK".into(), serde_json::json!(i));
                            r
                        })
                        .collect()
                }),
                "only 15 rules",
            ),
        ];
        for (mutate, want) in cases {
            let mut d = PolicyDoc { rules: vec![ok.clone()], ..Default::default() };
            mutate(&mut d);
            let err = d.compile().expect_err("refused").to_string();
            assert!(err.contains(want), "{err:?} should mention {want:?}");
        }
        let d = PolicyDoc { rules: vec![ok.clone(), ok], ..Default::default() };
        assert_eq!(d.compile().expect_err("refused"), PolicyError::Conflict(2, 1));
    }

    #[test]
    fn the_portal_form_round_trips_through_harbors_rule() {
        let form = NewRetentionRule {
            template: RetentionTemplate::NDaysSinceLastPull,
            count: 7,
            repo_excludes: true,
            repo_pattern: "tmp/**".into(),
            tag_excludes: false,
            tag_pattern: "v*".into(),
            untagged: false,
            labels: "lts,release".into(),
        };
        let rule = RuleDoc::from_form(&form);
        assert_eq!(rule.template, "nDaysSinceLastPull");
        assert_eq!(rule.params.get("nDaysSinceLastPull"), Some(&serde_json::json!(7)));
        assert_eq!(rule.scope_selectors["repository"][0].decoration, "repoExcludes");
        assert_eq!(rule.tag_selectors[1].kind, "label");
        assert_eq!(rule.form(), Some(form), "the edit form shows what was saved");
        let always = RuleDoc::from_form(&NewRetentionRule {
            template: RetentionTemplate::Always,
            repo_pattern: "**".into(),
            tag_pattern: "**".into(),
            ..Default::default()
        });
        assert!(always.params.is_empty(), "always takes no parameter");
        let doc = PolicyDoc {
            rules: vec![always],
            scope: ScopeDoc { level: "project".into(), reference: 1 },
            ..Default::default()
        };
        assert_eq!(doc.compile().err(), None, "a rule from the form is a valid rule");
        let mut two = RuleDoc::from_form(&NewRetentionRule::default());
        two.tag_selectors.push(two.tag_selectors[0].clone());
        assert_eq!(two.form(), None, "a rule the form cannot express is edited through the API");
    }
}
